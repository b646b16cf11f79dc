/**
 * The live updates a console listens to (GET /api/v1/events). A change event
 * names what changed, never how: the console refetches through the API,
 * which enforces roles. No Node imports: the console bundles this file.
 */

/** What changed, by the page that shows it (migration 0041 names them per table). */
export const eventTopics = [
  'tenants',
  'stages',
  'releases',
  'deployments',
  'backups',
  'restores',
  'restore-tests',
  'exports',
  'checks',
  'alerts',
  'silences',
  'healing',
  'incidents',
  'maintenance',
  'sla-policies',
  'sla-reports',
  'oncall',
  'operators',
  'tokens',
  'users',
  'groups',
  'scim-tokens',
  'identity',
  'logins',
  'break-glass',
  'drills',
  'nodes',
  'audit',
] as const;
export type EventTopic = (typeof eventTopics)[number];

/** `many`: a burst of changes to one topic of one tenant, coalesced into one event (`id` null). */
export const eventOps = ['insert', 'update', 'delete', 'many'] as const;
export type EventOp = (typeof eventOps)[number];

export interface ChangeEvent {
  readonly topic: EventTopic;
  readonly op: EventOp;
  /** The tenant's slug, or null for what belongs to no tenant (releases, on-call, nodes). */
  readonly tenant: string | null;
  /** The row's key as the API names it (a tenant's slug, a stage's name, an alert's id), or null. */
  readonly id: string | null;
}

/** The stream's event names: `change` carries a ChangeEvent; `resync` says "refetch everything shown". */
export const streamEvents = ['change', 'resync'] as const;
export type StreamEvent = (typeof streamEvents)[number];

export function isEventTopic(value: string): value is EventTopic {
  return (eventTopics as readonly string[]).includes(value);
}
