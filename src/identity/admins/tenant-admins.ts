import { randomBytes } from 'node:crypto';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import {
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  UnauthorizedError,
  showValue,
} from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import { checkEmailAddress } from '../../notifications/channels.ts';
import type { NotificationService } from '../../notifications/index.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';
import { checkTotp, hashPassword, passwordProblem } from '../credentials.ts';
import { findTenantId } from '../tenant-id.ts';
import type { IssuedToken, TokenService } from '../tokens.ts';
import {
  checkBoundedInteger,
  defaultInvitationHours,
  hashLinkToken,
  invitationMail,
  looksLikeLinkToken,
  maxInvitationHours,
  newLinkToken,
} from './rules.ts';

/**
 * Tenant admins: the customer's IT, an account scoped to one tenant. Their
 * accounts are rows of the operators table (role `tenant-admin`, a tenant_id)
 * so that they sign in, enrol TOTP, get locked out and hold API tokens the way
 * operators do (operators.ts, tokens.ts); this module alone creates, lists and
 * removes them, and keeps their invitations.
 */
export interface TenantAdminView {
  readonly email: string;
  readonly tenant: string;
  /** invited: the invitation is not accepted yet; active: a password is set. */
  readonly status: 'invited' | 'active';
  readonly mfa: boolean;
  readonly invitedBy: string | null;
  readonly invitationExpiresAt: string | null;
  readonly lastLoginAt: string | null;
  readonly createdAt: string;
}

export interface TenantAdminServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly tokens: TokenService;
  readonly notifications: Pick<NotificationService, 'enqueue'>;
  /** Turns TOTP on in a transaction (OperatorService.enableMfaIn): the invitation page enrols with the password. */
  readonly mfa: {
    enableMfaIn(tx: Queryable, operatorId: string, secret: string, step: number): Promise<string[]>;
  };
  /** The API's address as the invited admin reaches it (oncall.publicUrl, else where the API listens). */
  readonly apiUrl: () => string;
  /** `https://<tenant host>[:port]`: where the invitation page is. */
  readonly tenantOrigin: (slug: string) => string;
}

export interface InviteInput {
  readonly email: string;
  readonly expiresInHours?: number | undefined;
}

export class TenantAdminService {
  readonly #o: TenantAdminServiceOptions;

  constructor(options: TenantAdminServiceOptions) {
    this.#o = options;
  }

  /**
   * Creates the admin's account without a usable password and mails a
   * single-use invitation through the notification outbox (in the same
   * transaction). Inviting a pending admin again replaces its invitation.
   */
  async invite(slug: string, input: InviteInput, actor: Principal): Promise<TenantAdminView> {
    operatorOnly(actor, 'invite a tenant admin');
    const email = checkEmailAddress(input.email.trim(), 'email').toLowerCase();
    const hours = checkBoundedInteger(
      'expiresInHours',
      input.expiresInHours ?? defaultInvitationHours,
      1,
      maxInvitationHours,
      'hours',
    );
    const tenant = await this.#tenant(this.#o.db, slug);
    const now = this.#o.clock.now();
    const expiresAt = new Date(now.getTime() + hours * 3_600_000);
    const link = newLinkToken('invitation');
    // Nobody knows this password: the account opens when the invitation is accepted.
    const unusable = await hashPassword(randomBytes(32).toString('base64url'));
    await this.#o.db.transaction().execute(async (tx) => {
      const inserted = await tx
        .insertInto('operators')
        .values({
          username: email,
          role: 'tenant-admin',
          tenant_id: tenant.id,
          password_hash: unusable,
          recovery_codes: '[]',
        })
        .onConflict((oc) => oc.column('username').doNothing())
        .returning('id')
        .executeTakeFirst();
      let operatorId = inserted?.id;
      if (!operatorId) {
        const existing = await tx
          .selectFrom('operators')
          .leftJoin('tenant_admin_invitations', 'tenant_admin_invitations.operator_id', 'operators.id')
          .select([
            'operators.id',
            'operators.tenant_id',
            'tenant_admin_invitations.accepted_at',
            'tenant_admin_invitations.operator_id as invited',
          ])
          .where('operators.username', '=', email)
          .forUpdate('operators')
          .executeTakeFirstOrThrow();
        if (existing.tenant_id !== tenant.id || existing.invited === null || existing.accepted_at !== null) {
          throw new ConflictError(
            existing.tenant_id === tenant.id
              ? `${email} is already an admin of ${slug}`
              : `${email} already has a Steward account (an operator or another tenant's admin); invite another address`,
            { field: 'email' },
          );
        }
        operatorId = existing.id;
      }
      await tx
        .insertInto('tenant_admin_invitations')
        .values({
          operator_id: operatorId,
          token_hash: link.hash,
          invited_by: actorName(actor),
          expires_at: expiresAt,
        })
        .onConflict((oc) =>
          oc.column('operator_id').doUpdateSet({
            token_hash: link.hash,
            invited_by: actorName(actor),
            expires_at: expiresAt,
            created_at: now,
          }),
        )
        .execute();
      const mail = invitationMail({
        tenant: slug,
        email,
        invitedBy: actor.username,
        token: link.token,
        apiUrl: this.#o.apiUrl(),
        pageUrl: `${this.#o.tenantOrigin(slug)}/.steward/auth/admin-invite`,
        expiresAt,
      });
      await this.#o.notifications.enqueue(
        {
          key: `tenant-admin-invite:${operatorId}:${link.hash.slice(0, 16)}`,
          kind: 'tenant-admin-invite',
          ...mail,
          email,
        },
        tx,
      );
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'tenant-admin.invite',
        target: `tenant-admin/${slug}/${email}`,
        tenant: slug,
        details: { expiresAt: expiresAt.toISOString(), reinvited: inserted === undefined },
      });
    });
    return this.#one(slug, email);
  }

  /**
   * The invited admin accepts: the invitation's token (good once, until it
   * expires) and a new password. Returns a session token, so that the CLI can
   * go on to enrol TOTP; until then the admin may manage only its own account.
   */
  async accept(token: string, password: string, address: string): Promise<IssuedToken & { tenant: string }> {
    const passwordHash = await this.#newPassword(token, password);
    return this.#o.db.transaction().execute(async (tx) => {
      const admin = await this.#claim(tx, token, passwordHash, address, undefined);
      const issued = await this.#o.tokens.issue(
        tx,
        { id: admin.id, username: admin.username },
        {
          name: 'login',
          kind: 'session',
          role: 'tenant-admin',
          expiresAt: this.#o.tokens.expiry('expiresInHours', 12),
        },
        admin.actor,
        address,
      );
      return { ...issued, tenant: admin.tenant };
    });
  }

  /** Whom an invitation is for, when it can still be accepted on this tenant's host (the page's first view). */
  async invitee(token: string, tenantId: string): Promise<string | undefined> {
    if (!looksLikeLinkToken('invitation', token)) return undefined;
    const row = await this.#o.db
      .selectFrom('tenant_admin_invitations')
      .innerJoin('operators', 'operators.id', 'tenant_admin_invitations.operator_id')
      .select('operators.username')
      .where('tenant_admin_invitations.token_hash', '=', hashLinkToken(token))
      .where('tenant_admin_invitations.accepted_at', 'is', null)
      .where('tenant_admin_invitations.expires_at', '>', this.#o.clock.now())
      .where('operators.tenant_id', '=', tenantId)
      .executeTakeFirst();
    return row?.username;
  }

  /**
   * The invitation page on the tenant's own host: the password and TOTP in
   * one step (the code proves the secret), so the account never exists
   * without its second factor. Returns the recovery codes, shown once.
   */
  async acceptWithTotp(
    place: { readonly tenantId: string; readonly address: string },
    input: {
      readonly token: string;
      readonly password: string;
      readonly secret: string;
      readonly code: string;
    },
  ): Promise<{ email: string; tenant: string; recoveryCodes: string[] }> {
    if (!/^[A-Z2-7]{32}$/.test(input.secret)) {
      throw new InputError('field "secret": not the key this page showed; reload the page', {
        field: 'secret',
      });
    }
    const step = await checkTotp(input.secret, input.code, this.#o.clock.now());
    if (step === undefined) {
      throw new InputError(
        'field "code": the code does not match the key; check the authenticator app\'s clock and try the next code',
        { field: 'code' },
      );
    }
    const passwordHash = await this.#newPassword(input.token, input.password);
    return this.#o.db.transaction().execute(async (tx) => {
      const admin = await this.#claim(tx, input.token, passwordHash, place.address, place.tenantId);
      const recoveryCodes = await this.#o.mfa.enableMfaIn(tx, admin.id, input.secret, step);
      await this.#o.audit.record(tx, {
        actor: admin.actor,
        address: place.address,
        action: 'operator.mfa.enable',
        target: `tenant-admin/${admin.tenant}/${admin.username}`,
        tenant: admin.tenant,
      });
      return { email: admin.username, tenant: admin.tenant, recoveryCodes };
    });
  }

  async #newPassword(token: string, password: string): Promise<string> {
    if (!looksLikeLinkToken('invitation', token)) throw invitationRefused();
    const problem = passwordProblem(password);
    if (problem) throw new InputError(`field "password": ${problem}`, { field: 'password' });
    return hashPassword(password);
  }

  /** Claims an invitation (once: under its row's lock a second use finds accepted_at set) and sets the password. */
  async #claim(
    tx: Queryable,
    token: string,
    passwordHash: string,
    address: string,
    tenantId: string | undefined,
  ): Promise<{ id: string; username: string; tenant: string; actor: string }> {
    const now = this.#o.clock.now();
    let query = tx
      .updateTable('tenant_admin_invitations')
      .set({ accepted_at: now })
      .where('token_hash', '=', hashLinkToken(token))
      .where('accepted_at', 'is', null)
      .where('expires_at', '>', now);
    // On a tenant's host, only that tenant's invitations.
    if (tenantId !== undefined) {
      query = query.where('operator_id', 'in', (eb) =>
        eb.selectFrom('operators').select('id').where('tenant_id', '=', tenantId),
      );
    }
    const claimed = await query.returning('operator_id').executeTakeFirst();
    if (!claimed) throw invitationRefused();
    const admin = await tx
      .updateTable('operators')
      .set({
        password_hash: passwordHash,
        must_change_password: false,
        last_login_at: now,
        last_login_address: address,
      })
      .where('id', '=', claimed.operator_id)
      .where('role', '=', 'tenant-admin')
      .returning(['id', 'username', 'tenant_id'])
      .executeTakeFirst();
    if (!admin?.tenant_id) throw invitationRefused();
    const tenant = await tx
      .selectFrom('tenants')
      .select('slug')
      .where('id', '=', admin.tenant_id)
      .executeTakeFirstOrThrow();
    const actor = `tenant-admin:${tenant.slug}/${admin.username}`;
    await this.#o.audit.record(tx, {
      actor,
      address,
      action: 'tenant-admin.accept',
      target: `tenant-admin/${tenant.slug}/${admin.username}`,
      tenant: tenant.slug,
    });
    return { id: admin.id, username: admin.username, tenant: tenant.slug, actor };
  }

  async list(slug: string): Promise<TenantAdminView[]> {
    const tenant = await this.#tenant(this.#o.db, slug);
    const rows = await this.#rows()
      .where('operators.tenant_id', '=', tenant.id)
      .orderBy('operators.username')
      .execute();
    return rows.map((r) => view(slug, r));
  }

  /** Removes the admin's account; its tokens go with it (cascade), so its access ends at once. */
  async remove(slug: string, email: string, actor: Principal): Promise<TenantAdminView> {
    operatorOnly(actor, 'remove a tenant admin');
    const before = await this.#one(slug, email.toLowerCase());
    await this.#o.db.transaction().execute(async (tx) => {
      const tenant = await this.#tenant(tx, slug);
      await tx
        .deleteFrom('operators')
        .where('username', '=', before.email)
        .where('tenant_id', '=', tenant.id)
        .where('role', '=', 'tenant-admin')
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'tenant-admin.remove',
        target: `tenant-admin/${slug}/${before.email}`,
        tenant: slug,
      });
    });
    return before;
  }

  async #one(slug: string, email: string): Promise<TenantAdminView> {
    const tenant = await this.#tenant(this.#o.db, slug);
    const row = await this.#rows()
      .where('operators.tenant_id', '=', tenant.id)
      .where('operators.username', '=', email)
      .executeTakeFirst();
    if (!row) {
      throw new NotFoundError(
        `${showValue(email)} is not an admin of ${slug}; "steward tenant-admin list ${slug}" shows them`,
        {
          field: 'email',
        },
      );
    }
    return view(slug, row);
  }

  #rows() {
    return this.#o.db
      .selectFrom('operators')
      .leftJoin('tenant_admin_invitations', 'tenant_admin_invitations.operator_id', 'operators.id')
      .select([
        'operators.username',
        'operators.totp_enabled',
        'operators.last_login_at',
        'operators.created_at',
        'tenant_admin_invitations.invited_by',
        'tenant_admin_invitations.expires_at',
        'tenant_admin_invitations.accepted_at',
      ])
      .where('operators.role', '=', 'tenant-admin');
  }

  async #tenant(db: Queryable, slug: string): Promise<{ id: string }> {
    const id = await findTenantId(db, slug);
    if (id === undefined)
      throw new NotFoundError(`tenant ${showValue(slug)} does not exist`, { field: 'tenant' });
    return { id };
  }
}

function invitationRefused(): UnauthorizedError {
  return new UnauthorizedError('this invitation code is unknown, used or expired; ask for a new invitation', {
    field: 'token',
  });
}

function operatorOnly(actor: Principal, what: string): void {
  if (actor.kind === 'tenant-admin')
    throw new ForbiddenError(`a tenant admin may not ${what}; an operator does`);
}

function view(
  tenant: string,
  r: {
    username: string;
    totp_enabled: boolean;
    last_login_at: Date | null;
    created_at: Date;
    invited_by: string | null;
    expires_at: Date | null;
    accepted_at: Date | null;
  },
): TenantAdminView {
  const pending = r.invited_by !== null && r.accepted_at === null;
  return {
    email: r.username,
    tenant,
    status: pending ? 'invited' : 'active',
    mfa: r.totp_enabled,
    invitedBy: r.invited_by,
    invitationExpiresAt: pending ? (r.expires_at?.toISOString() ?? null) : null,
    lastLoginAt: r.last_login_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}
