import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ForbiddenError, InputError, NotFoundError, UnauthorizedError, showValue } from '../core/errors.ts';
import { actorName, roleCovers, type Principal, type Role, type TokenScope } from '../core/policy.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import { hashToken, looksLikeToken, newApiToken } from './credentials.ts';
import type { CreateTokenInput } from './schemas.ts';

/**
 * API tokens (table api_tokens): the one module that writes them. Shown once,
 * stored hashed, always with an end: no token outlives
 * `identity.maxTokenLifetimeDays` but the machine's own local CLI token, which
 * every start of Steward replaces.
 */
export const tokenKinds = ['session', 'local', 'automation'] as const;

/** What the token list can be sorted by; id (the order they were made) is its order. */
export const tokenSorts = ['id', 'name'] as const;
export type TokenSort = (typeof tokenSorts)[number];
const tokenSortColumns: Record<TokenSort, string> = { id: 'api_tokens.id', name: 'api_tokens.name' };
/** session: from "steward login"; local: client.json of this machine; automation: "steward token create". */
export type TokenKind = (typeof tokenKinds)[number];

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly kind: TokenKind;
  readonly role: Role;
  /** Null: every route the role allows; else only the scope's routes. */
  readonly scope: TokenScope | null;
  readonly operator: string;
  readonly prefix: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly createdAt: string;
}

export interface IssuedToken extends TokenView {
  /** Shown once; only its hash is stored. */
  readonly token: string;
}

export interface TokenSpec {
  readonly name: string;
  readonly kind: TokenKind;
  readonly role: Role;
  readonly scope?: TokenScope | undefined;
  readonly expiresAt?: Date | undefined;
}

export interface TokenServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  /** The longest lifetime of a session or automation token. */
  readonly maxLifetimeDays: number;
}

export class TokenService {
  readonly #o: TokenServiceOptions;

  constructor(options: TokenServiceOptions) {
    this.#o = options;
  }

  /**
   * The end of a token that should live `days` (or `hours`), refused past the
   * cap with the field, the value and the cap named.
   */
  expiry(field: 'expiresInDays' | 'expiresInHours', value: number): Date {
    const cap = this.#o.maxLifetimeDays;
    const hours = field === 'expiresInDays' ? value * 24 : value;
    if (hours > cap * 24) {
      throw new InputError(
        `field "${field}": ${value} ${field === 'expiresInDays' ? 'days' : 'hours'} is longer than a token may live; at most ${cap} days (${cap * 24} hours, identity.maxTokenLifetimeDays)`,
        { field },
      );
    }
    return new Date(this.#o.clock.now().getTime() + hours * 3_600_000);
  }

  /** Stores a new token and records it; the caller's transaction carries both. */
  async issue(
    tx: Queryable,
    operator: { id: string; username: string },
    spec: TokenSpec,
    actor: string,
    address: string | null = null,
  ): Promise<IssuedToken> {
    const issued = newApiToken();
    const row = await tx
      .insertInto('api_tokens')
      .values({
        operator_id: operator.id,
        name: spec.name,
        kind: spec.kind,
        role: spec.role,
        scope: spec.scope ?? null,
        token_hash: issued.hash,
        prefix: issued.prefix,
        expires_at: spec.expiresAt ?? null,
        revoked_at: null,
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.#o.audit.record(tx, {
      actor,
      address,
      action: 'token.create',
      target: `token/${row.id}`,
      details: {
        name: spec.name,
        kind: spec.kind,
        role: spec.role,
        scope: spec.scope ?? null,
        operator: operator.username,
        expiresAt: spec.expiresAt?.toISOString() ?? null,
      },
    });
    return { ...tokenView(row, operator.username), token: issued.token };
  }

  /** The machine's local CLI token (client.json) for an operator; the previous one is revoked. */
  /**
   * The data dir's CLI token (client.json), replacing the one before. With
   * several Steward nodes on one control database each node has its own
   * (`local-cli@<node>`): a node's start replaces only its own.
   */
  async issueLocal(
    operator: { id: string; username: string; role: string },
    node?: string,
  ): Promise<IssuedToken> {
    const name = node === undefined ? 'local-cli' : `local-cli@${node}`;
    return this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('api_tokens')
        .set({ revoked_at: this.#o.clock.now() })
        .where('operator_id', '=', operator.id)
        .where('kind', '=', 'local')
        .where('name', 'in', ['local-cli', name])
        .where('revoked_at', 'is', null)
        .execute();
      return this.issue(tx, operator, { name, kind: 'local', role: operator.role as Role }, 'system');
    });
  }

  /** Resolves a bearer token to a principal, or throws UnauthorizedError. */
  async authenticate(token: string, address: string | null): Promise<Principal> {
    if (!looksLikeToken(token))
      throw new UnauthorizedError('the API token is malformed; tokens start with "stw_"');
    const now = this.#o.clock.now();
    const row = await this.#o.db
      .selectFrom('api_tokens')
      .innerJoin('operators', 'operators.id', 'api_tokens.operator_id')
      .leftJoin('tenants', 'tenants.id', 'operators.tenant_id')
      .select([
        'api_tokens.id',
        'api_tokens.kind',
        'api_tokens.role',
        'api_tokens.scope',
        'api_tokens.expires_at',
        'api_tokens.revoked_at',
        'api_tokens.last_used_at',
        'operators.id as operator_id',
        'operators.username',
        'operators.role as operator_role',
        'operators.totp_enabled',
        'tenants.id as tenant_id',
        'tenants.slug as tenant_slug',
        'tenants.desired as tenant_desired',
      ])
      .where('api_tokens.token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at <= now)) {
      throw new UnauthorizedError(
        'the API token is unknown, expired or revoked; log in again with "steward login"',
      );
    }
    const operatorRole = row.operator_role as Role;
    // A token never carries more than its operator has now.
    const role = roleCovers(operatorRole, row.role as Role) ? (row.role as Role) : operatorRole;
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > 60_000) {
      await this.#o.db
        .updateTable('api_tokens')
        .set({ last_used_at: now })
        .where('id', '=', row.id)
        .execute();
    }
    // A tenant admin's scope comes from its account, never from the token: its tenant, now.
    const tenant =
      // A tenant being deleted has no admins any more (its rows go when the reconciler removes it).
      operatorRole === 'tenant-admin' &&
      row.tenant_id !== null &&
      row.tenant_slug !== null &&
      row.tenant_desired === 'present'
        ? { id: row.tenant_id, slug: row.tenant_slug, mfa: row.totp_enabled }
        : undefined;
    if (operatorRole === 'tenant-admin' && !tenant) {
      throw new UnauthorizedError(
        'the API token is unknown, expired or revoked; log in again with "steward login"',
      );
    }
    return {
      kind: tenant ? 'tenant-admin' : 'operator',
      ...(tenant ? { tenant } : {}),
      operatorId: row.operator_id,
      username: row.username,
      role,
      tokenId: row.id,
      address,
      // Its own sign-in, with (at least) the operator's whole role: a token narrowed below it may not.
      accountAccess: row.kind !== 'automation' && roleCovers(row.role as Role, operatorRole),
      scope: row.scope as TokenScope | null,
    };
  }

  async create(
    actor: Principal,
    operator: { id: string; username: string },
    input: CreateTokenInput,
  ): Promise<IssuedToken> {
    const role = input.role ?? actor.role;
    if (!roleCovers(actor.role, role)) {
      throw new ForbiddenError(`a ${actor.role} cannot create a token with role ${role}`, { field: 'role' });
    }
    const expiresAt = this.expiry('expiresInDays', input.expiresInDays ?? this.#o.maxLifetimeDays);
    return this.#o.db
      .transaction()
      .execute((tx) =>
        this.issue(
          tx,
          operator,
          { name: input.name, kind: 'automation', role, scope: input.scope, expiresAt },
          actorName(actor),
          actor.address,
        ),
      );
  }

  /** One page of API tokens: an owner sees every operator's, others their own (keyset on the sort and the id). */
  async listPage(actor: Principal, page: PageRequest<TokenSort>): Promise<Page<TokenView>> {
    let query = this.#o.db
      .selectFrom('api_tokens')
      .innerJoin('operators', 'operators.id', 'api_tokens.operator_id')
      .selectAll('api_tokens')
      .select('operators.username');
    if (actor.role !== 'owner') query = query.where('operators.username', '=', actor.username);
    const rows = await keysetPage(query, { sort: tokenSortColumns[page.sort], id: 'api_tokens.id' }, page);
    return { ...rows, items: rows.items.map((r) => tokenView(r, r.username)) };
  }

  /**
   * Revokes a token of one operator: the caller's own, or (through the
   * operators' admin route) the named operator's. The audit event names both.
   */
  async revoke(actor: Principal, id: string, operator: { id: string; username: string }): Promise<TokenView> {
    if (!/^\d{1,18}$/.test(id)) {
      throw new InputError(`token id ${showValue(id)} is not a number; "steward token list" shows the ids`, {
        field: 'id',
      });
    }
    return this.#o.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('api_tokens')
        .selectAll()
        .where('id', '=', id)
        .where('operator_id', '=', operator.id)
        .executeTakeFirst();
      if (!row) {
        throw new NotFoundError(
          `operator ${operator.username} has no token ${id}; "steward token list" shows the ids (an owner revokes another operator's token with --operator)`,
          { field: 'id' },
        );
      }
      const revokedAt = row.revoked_at ?? this.#o.clock.now();
      await tx.updateTable('api_tokens').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'token.revoke',
        target: `token/${id}`,
        details: { name: row.name, operator: operator.username },
      });
      return tokenView({ ...row, revoked_at: revokedAt }, operator.username);
    });
  }

  /**
   * After a password change: revokes every session and automation token of
   * the operator but the one in use (null: all of them). The local CLI token
   * stays; a password never gave it, and every start replaces it.
   */
  async revokeOthers(tx: Queryable, operatorId: string, keep: string | null): Promise<string[]> {
    let query = tx
      .updateTable('api_tokens')
      .set({ revoked_at: this.#o.clock.now() })
      .where('operator_id', '=', operatorId)
      .where('kind', '<>', 'local')
      .where('revoked_at', 'is', null);
    if (keep !== null) query = query.where('id', '<>', keep);
    const rows = await query.returning('id').execute();
    return rows.map((r) => r.id);
  }
}

export function tokenView(
  row: {
    id: string;
    name: string;
    kind: string;
    role: string;
    scope: string | null;
    prefix: string;
    expires_at: Date | null;
    revoked_at: Date | null;
    last_used_at: Date | null;
    created_at: Date;
  },
  operator: string,
): TokenView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as TokenKind,
    role: row.role as Role,
    scope: row.scope as TokenScope | null,
    operator,
    prefix: row.prefix,
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}
