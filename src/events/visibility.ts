import { can, type Permission, type Principal } from '../core/policy.ts';
import type { ChangeEvent, EventTopic } from './topics.ts';

/** What an operator's role needs to see a topic's events (the permission of the routes that read it). */
const topicPermission: Partial<Record<EventTopic, Permission>> = {
  audit: 'audit.read',
  operators: 'operators.read',
  tokens: 'operators.read',
  users: 'identity.read',
  groups: 'identity.read',
  'scim-tokens': 'identity.read',
  identity: 'identity.read',
  logins: 'identity.read',
  'break-glass': 'identity.read',
};

/** What a tenant admin's pages show of its tenant (issue 15 part 5); its tenant's events of other topics stay with operators. */
export const tenantAdminTopics: ReadonlySet<EventTopic> = new Set<EventTopic>([
  'tenants',
  'stages',
  'exports',
  'incidents',
  'maintenance',
  'sla-reports',
  'operators',
  'tokens',
  'users',
  'groups',
  'scim-tokens',
  'identity',
  'logins',
  'break-glass',
]);

/**
 * Whether a principal's stream carries an event: a tenant admin only its own
 * tenant's, of the topics its pages show; an operator what its role reads.
 * Events carry no row data, yet another tenant's slug or ids are still that
 * tenant's business.
 */
export function canSee(principal: Pick<Principal, 'kind' | 'role' | 'tenant'>, event: ChangeEvent): boolean {
  if (principal.kind === 'tenant-admin') {
    return (
      principal.tenant !== undefined &&
      event.tenant === principal.tenant.slug &&
      tenantAdminTopics.has(event.topic)
    );
  }
  return can(principal.role, topicPermission[event.topic] ?? 'tenants.read');
}

/**
 * Whether an event ends a principal's stream: its token changed (revoked, at
 * sign-out). The browser reconnects and is authenticated afresh, or refused.
 * Not its account's changes: MFA enrolment comes just before a console
 * opens its stream, and its notification may arrive just after.
 */
export function endsStream(principal: Pick<Principal, 'tokenId'>, event: ChangeEvent): boolean {
  if (event.op === 'insert' || event.id === null || principal.tokenId === null) return false;
  return event.topic === 'tokens' && event.id === principal.tokenId;
}
