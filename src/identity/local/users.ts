import type { Page, PageRequest } from '../../store/keyset.ts';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import { ConflictError, NotFoundError, showValue } from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import type { NotificationService } from '../../notifications/index.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';
import type { LocalAttempts } from './attempts.ts';
import { maxPageSize } from '../directory/index.ts';
import type { DirectoryPort, LocalUser } from './directory.ts';
import { issueLink, linkUrl, pendingInvitations } from './links.ts';
import type { LoginEvents } from './login-log.ts';
import { linkLifetimeSeconds, type LinkKind } from './policy.ts';
import { removeSecurityKeys, securityKeyCounts } from './webauthn.ts';

/** What revokes a user's sessions: sessions/ (id-edge) when it runs; else there are none to revoke. */
export interface SessionRevoker {
  /** Returns how many sessions ended. */
  revokeUser(tenantId: string, userId: string): Promise<number>;
}

export const noSessions: SessionRevoker = { revokeUser: () => Promise.resolve(0) };

export interface UserView {
  readonly id: string;
  readonly userName: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly active: boolean;
  /** local, scim, ldap or oidc: who manages the user. */
  readonly source: string;
  readonly groups: readonly string[];
  /** TOTP enrolled. */
  readonly mfa: boolean;
  /** WebAuthn security keys added. */
  readonly securityKeys: number;
  readonly mfaRequired: boolean;
  readonly passwordSet: boolean;
  readonly invitationPending: boolean;
  readonly lockedUntil: string | null;
  readonly lastSignInAt: string | null;
}

export interface AddUserInput {
  readonly userName: string;
  readonly email: string;
  readonly name?: string | undefined;
  readonly requireMfa?: boolean | undefined;
}

export interface LocalUserServiceOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly directory: DirectoryPort;
  readonly log: LoginEvents;
  readonly attempts: LocalAttempts;
  readonly notifications: NotificationService;
  readonly sessions: () => SessionRevoker;
  /** `https://<tenant host>[:port]`: where a tenant's mailed links land. */
  readonly origin: (tenantSlug: string) => string;
}

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly displayName: string;
}

export const totpSecretName = (userId: string): string => `tenant-user/${userId}/totp`;

/**
 * A tenant's users as its operators and tenant admins manage them (the API
 * and CLI `steward user …`): local users are added and invited here; every
 * user can be listed, disabled, enabled, deleted, and have its sessions
 * revoked; local users get reset links and MFA resets. Each change is an
 * audit event; MFA resets are login-log events too.
 */
export class LocalUserService {
  readonly #o: LocalUserServiceOptions;

  constructor(options: LocalUserServiceOptions) {
    this.#o = options;
  }

  async tenant(slug: string): Promise<Tenant> {
    const row = await this.#o.db
      .selectFrom('tenants')
      .select(['id', 'slug', 'display_name'])
      .where('slug', '=', slug)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`tenant ${showValue(slug)} does not exist`, { field: 'tenant' });
    return { id: String(row.id), slug: row.slug, displayName: row.display_name };
  }

  async list(slug: string): Promise<UserView[]> {
    const tenant = await this.tenant(slug);
    const users: LocalUser[] = [];
    for (let startIndex = 1; ;) {
      const page = await this.#o.directory.listUsers(tenant.id, { startIndex, count: maxPageSize });
      users.push(...page.items);
      startIndex += page.items.length;
      if (page.items.length === 0 || startIndex > page.total) break;
    }
    return this.#views(tenant, users);
  }

  /** One page of a tenant's users (keyset in SQL). */
  async listPage(slug: string, page: PageRequest<'created' | 'userName'>): Promise<Page<UserView>> {
    const tenant = await this.tenant(slug);
    const found = await this.#o.directory.userPage(tenant.id, page);
    return { ...found, items: await this.#views(tenant, found.items) };
  }

  async show(slug: string, userName: string): Promise<UserView> {
    const tenant = await this.tenant(slug);
    const [view] = await this.#views(tenant, [await this.#find(tenant, userName)]);
    if (!view) throw new NotFoundError(`user ${showValue(userName)} does not exist in tenant ${slug}`);
    return view;
  }

  /** A local user, with an invitation mailed to set a password (and TOTP, if required). */
  async add(
    slug: string,
    input: AddUserInput,
    actor: Principal,
  ): Promise<{ user: UserView; invitation: { sentTo: string; expiresAt: string } }> {
    const tenant = await this.tenant(slug);
    const now = this.#o.clock.now();
    const { user, expiresAt } = await this.#o.directory.write(async (w) => {
      const tx = w.tx;
      const created = await w.createUser(
        tenant.id,
        { userName: input.userName, email: input.email.toLowerCase(), displayName: input.name ?? null },
        'local',
      );
      await tx
        .insertInto('tenant_user_credentials')
        .values({ user_id: created.id, tenant_id: tenant.id, mfa_required: input.requireMfa ?? false })
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'tenant-user.add',
        target: target(tenant, created.userName),
        tenant: tenant.slug,
        details: { email: created.email, source: 'local', requireMfa: input.requireMfa ?? false },
      });
      const link = await this.#mailLink(tx, tenant, created, 'invitation', actor, now);
      return { user: created, expiresAt: link };
    });
    return {
      user: await this.show(slug, user.userName),
      invitation: { sentTo: user.email ?? '', expiresAt: expiresAt.toISOString() },
    };
  }

  /** A new invitation (the older one stops working). */
  async invite(
    slug: string,
    userName: string,
    actor: Principal,
  ): Promise<{ sentTo: string; expiresAt: string }> {
    return this.#sendLink(slug, userName, 'invitation', actor);
  }

  /** A password reset link (the older one stops working); the password stays until the link is used. */
  async resetPassword(
    slug: string,
    userName: string,
    actor: Principal,
  ): Promise<{ sentTo: string; expiresAt: string }> {
    return this.#sendLink(slug, userName, 'reset', actor);
  }

  async setActive(slug: string, userName: string, active: boolean, actor: Principal): Promise<UserView> {
    const tenant = await this.tenant(slug);
    const user = await this.#find(tenant, userName);
    await this.#o.directory.write(async (w) => {
      await w.setActive(tenant.id, user.id, active);
      await this.#o.audit.record(w.tx, {
        actor: actorName(actor),
        address: actor.address,
        action: active ? 'tenant-user.enable' : 'tenant-user.disable',
        target: target(tenant, user.userName),
        tenant: tenant.slug,
      });
    });
    // After the row: a refresh re-reads the user, so a crash between the two cannot keep a session alive.
    if (!active) await this.#o.sessions().revokeUser(tenant.id, user.id);
    return this.show(slug, user.userName);
  }

  async remove(slug: string, userName: string, actor: Principal): Promise<void> {
    const tenant = await this.tenant(slug);
    const user = await this.#find(tenant, userName);
    await this.#o.directory.write(async (w) => {
      const credentials = await w.tx
        .selectFrom('tenant_user_credentials')
        .select('totp_secret')
        .where('user_id', '=', user.id)
        .executeTakeFirst();
      if (credentials?.totp_secret) await this.#o.secrets.remove(w.tx, credentials.totp_secret);
      await w.deleteUser(tenant.id, user.id);
      await this.#o.audit.record(w.tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'tenant-user.delete',
        target: target(tenant, user.userName),
        tenant: tenant.slug,
        details: { source: user.source },
      });
    });
    await this.#o.sessions().revokeUser(tenant.id, user.id);
  }

  /** Turns TOTP off and removes the security keys (a lost phone or key): the next sign-in asks for the password only, or for enrolment if MFA is required. */
  async resetMfa(slug: string, userName: string, actor: Principal): Promise<UserView> {
    const tenant = await this.tenant(slug);
    const user = await this.#find(tenant, userName);
    await this.#o.db.transaction().execute(async (tx) => {
      const credentials = await tx
        .selectFrom('tenant_user_credentials')
        .select(['totp_secret', 'totp_enabled'])
        .where('user_id', '=', user.id)
        .forUpdate()
        .executeTakeFirst();
      const keys = await removeSecurityKeys(tx, user.id);
      if (!credentials?.totp_enabled && !credentials?.totp_secret && keys === 0) {
        throw new ConflictError(`user ${user.userName} has no MFA enrolled; nothing to reset`, {
          field: 'userName',
        });
      }
      if (credentials?.totp_secret) await this.#o.secrets.remove(tx, credentials.totp_secret);
      await tx
        .updateTable('tenant_user_credentials')
        .set({
          totp_secret: null,
          totp_enabled: false,
          totp_last_step: null,
          mfa_enrolled_at: null,
          recovery_codes: '[]',
          mfa_challenge: null,
        })
        .where('user_id', '=', user.id)
        .execute();
      await this.#o.log.recordIn(tx, {
        tenantId: tenant.id,
        stage: null,
        userId: user.id,
        userName: user.userName,
        method: 'mfa_reset',
        outcome: 'success',
        reason: null,
        address: actor.address,
        detail: `by ${actorName(actor)}`,
      });
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'tenant-user.mfa.reset',
        target: target(tenant, user.userName),
        tenant: tenant.slug,
        details: { securityKeys: keys },
      });
    });
    return this.show(slug, user.userName);
  }

  async revokeSessions(slug: string, userName: string, actor: Principal): Promise<{ revoked: number }> {
    const tenant = await this.tenant(slug);
    const user = await this.#find(tenant, userName);
    const revoked = await this.#o.sessions().revokeUser(tenant.id, user.id);
    await this.#o.audit.recordAlone({
      actor: actorName(actor),
      address: actor.address,
      action: 'tenant-user.sessions.revoke',
      target: target(tenant, user.userName),
      tenant: tenant.slug,
      details: { revoked },
    });
    return { revoked };
  }

  async #sendLink(
    slug: string,
    userName: string,
    kind: LinkKind,
    actor: Principal,
  ): Promise<{ sentTo: string; expiresAt: string }> {
    const tenant = await this.tenant(slug);
    const user = await this.#find(tenant, userName);
    if (user.source !== 'local') {
      throw new ConflictError(
        `user ${user.userName} comes from ${user.source} and signs in there; only local users get ${kind === 'reset' ? 'password resets' : 'invitations'}`,
        { field: 'userName' },
      );
    }
    if (!user.email) {
      throw new ConflictError(`user ${user.userName} has no e-mail address to send the link to`, {
        field: 'userName',
      });
    }
    const now = this.#o.clock.now();
    const expiresAt = await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('tenant_user_credentials')
        .values({ user_id: user.id, tenant_id: tenant.id })
        .onConflict((oc) => oc.column('user_id').doNothing())
        .execute();
      return this.#mailLink(tx, tenant, user, kind, actor, now);
    });
    return { sentTo: user.email, expiresAt: expiresAt.toISOString() };
  }

  /** Issues the link and puts its mail in the outbox, in the caller's transaction; the audit event names no token. */
  async #mailLink(
    tx: Queryable,
    tenant: Tenant,
    user: LocalUser,
    kind: LinkKind,
    actor: Principal,
    now: Date,
  ): Promise<Date> {
    if (!user.email) throw new ConflictError(`user ${user.userName} has no e-mail address`);
    const link = await issueLink(tx, {
      tenantId: tenant.id,
      userId: user.id,
      kind,
      createdBy: actorName(actor),
      now,
    });
    const url = linkUrl(this.#o.origin(tenant.slug), kind, link.token);
    const days = linkLifetimeSeconds.invitation / 86_400;
    const mail =
      kind === 'invitation'
        ? {
            subject: `Your account for ${tenant.displayName}`,
            body: [
              `You have an account for ${tenant.displayName}, with the user name ${user.userName}.`,
              '',
              `To set your password, open this link within ${days} days (it works once):`,
              url,
              '',
              'If you did not expect this e-mail, ignore it.',
            ],
          }
        : {
            subject: `Reset your password for ${tenant.displayName}`,
            body: [
              `A new password was requested for ${user.userName} at ${tenant.displayName}.`,
              '',
              'To choose one, open this link within an hour (it works once):',
              url,
              '',
              'If you did not ask for this, ignore this e-mail: your password stays as it is.',
            ],
          };
    await this.#o.notifications.enqueue(
      {
        key: `identity:${kind}:${link.id}`,
        kind: `identity-${kind}`,
        email: user.email,
        subject: mail.subject,
        body: mail.body.join('\n'),
      },
      tx,
    );
    await this.#o.audit.record(tx, {
      actor: actorName(actor),
      address: actor.address,
      action: kind === 'invitation' ? 'tenant-user.invite' : 'tenant-user.password.reset-link',
      target: target(tenant, user.userName),
      tenant: tenant.slug,
      details: { sentTo: user.email, link: link.id, expiresAt: link.expiresAt.toISOString() },
    });
    return link.expiresAt;
  }

  async #find(tenant: Tenant, userName: string): Promise<LocalUser> {
    const user = await this.#o.directory.findUser(tenant.id, { userName });
    if (!user) {
      throw new NotFoundError(
        `user ${showValue(userName)} does not exist in tenant ${tenant.slug}; "steward user list ${tenant.slug}" shows the users`,
        { field: 'userName' },
      );
    }
    return user;
  }

  /** Each user's group names, asked of the Directory a few users at a time. */
  async #groups(tenantId: string, ids: readonly string[]): Promise<Map<string, string[]>> {
    const groups = new Map<string, string[]>();
    for (let i = 0; i < ids.length; i += 16) {
      const batch = ids.slice(i, i + 16);
      const refs = await Promise.all(batch.map((id) => this.#o.directory.groupsOf(tenantId, id)));
      batch.forEach((id, n) =>
        groups.set(
          id,
          (refs[n] ?? []).map((g) => g.displayName),
        ),
      );
    }
    return groups;
  }

  async #views(tenant: Tenant, users: readonly LocalUser[]): Promise<UserView[]> {
    const now = this.#o.clock.now();
    const ids = users.map((u) => u.id);
    const [groups, locks, pending, keys, credentials] = await Promise.all([
      this.#groups(tenant.id, ids),
      this.#o.attempts.lockedUntil(tenant.id, now),
      pendingInvitations(this.#o.db, tenant.id, now),
      securityKeyCounts(this.#o.db, ids),
      ids.length === 0
        ? Promise.resolve([])
        : this.#o.db
            .selectFrom('tenant_user_credentials')
            .select(['user_id', 'password_hash', 'totp_enabled', 'mfa_required'])
            .where('user_id', 'in', ids)
            .execute(),
    ]);
    const byUser = new Map(credentials.map((c) => [c.user_id, c]));
    return users.map((u) => {
      const c = byUser.get(u.id);
      return {
        id: u.id,
        userName: u.userName,
        email: u.email,
        displayName: u.displayName,
        active: u.active,
        source: u.source,
        groups: groups.get(u.id) ?? [],
        mfa: c?.totp_enabled ?? false,
        securityKeys: keys.get(u.id) ?? 0,
        mfaRequired: c?.mfa_required ?? false,
        passwordSet: Boolean(c?.password_hash),
        invitationPending: pending.has(u.id),
        lockedUntil: locks.get(u.id)?.toISOString() ?? null,
        lastSignInAt: u.lastSignInAt?.toISOString() ?? null,
      };
    });
  }
}

function target(tenant: Tenant, userName: string): string {
  return `tenant/${tenant.slug}/user/${userName}`;
}
