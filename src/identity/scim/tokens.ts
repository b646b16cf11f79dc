import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import { InputError, NotFoundError, UnauthorizedError, showValue } from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import type { ControlDb } from '../../store/db.ts';

/**
 * SCIM bearer tokens (table scim_tokens), one set per tenant: shown once,
 * kept as a SHA-256 (they are 256 random bits, so no slow hash is needed),
 * bound to their tenant: a token is only good on its own tenant's host.
 */
export interface ScimTokenView {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export interface IssuedScimToken extends ScimTokenView {
  /** Shown once; only its hash is stored. */
  readonly token: string;
  /** The SCIM base URL to give the identity provider. */
  readonly url: string;
}

/** Who a SCIM request acts for: the token's tenant and name (the audit actor is `scim:<name>`). */
export interface ScimCaller {
  readonly tenantId: string;
  readonly tenant: string;
  readonly tokenId: string;
  readonly name: string;
}

export interface ScimTokenServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  /** A tenant's id by its slug, or NotFoundError (the Directory's). */
  readonly tenantId: (tenant: string) => Promise<string>;
  /** The SCIM base URL of a tenant (`https://<tenant>.<base>/scim/v2`). */
  readonly baseUrl: (tenant: string) => string;
}

export const maxScimTokenDays = 3650;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

export function looksLikeScimToken(value: string): boolean {
  return /^scim_[A-Za-z0-9_-]{43}$/.test(value);
}

function hash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export class ScimTokenService {
  readonly #o: ScimTokenServiceOptions;

  constructor(options: ScimTokenServiceOptions) {
    this.#o = options;
  }

  async create(
    actor: Principal,
    tenant: string,
    input: { name?: string | undefined; expiresInDays?: number | undefined },
  ): Promise<IssuedScimToken> {
    const name = input.name ?? 'scim';
    if (!namePattern.test(name)) {
      throw new InputError(
        `field "name": ${showValue(name)} is not accepted; 1 to 64 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit`,
        { field: 'name' },
      );
    }
    const days = input.expiresInDays;
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > maxScimTokenDays)) {
      throw new InputError(
        `field "expiresInDays": ${showValue(days)} is not accepted; a whole number of days from 1 to ${maxScimTokenDays}`,
        { field: 'expiresInDays' },
      );
    }
    const tenantId = await this.#o.tenantId(tenant);
    const token = `scim_${randomBytes(32).toString('base64url')}`;
    const expiresAt = days === undefined ? null : new Date(this.#o.clock.now().getTime() + days * 86_400_000);
    const row = await this.#o.db.transaction().execute(async (tx) => {
      const created = await tx
        .insertInto('scim_tokens')
        .values({
          tenant_id: tenantId,
          name,
          token_hash: hash(token).toString('hex'),
          created_by: actorName(actor),
          created_at: this.#o.clock.now(),
          expires_at: expiresAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'scim.token.create',
        target: `tenant/${tenant}/scim-token/${created.id}`,
        tenant,
        details: { name, expiresAt: expiresAt?.toISOString() ?? null },
      });
      return created;
    });
    return { ...view(row, tenant), token, url: this.#o.baseUrl(tenant) };
  }

  async list(tenant: string): Promise<ScimTokenView[]> {
    const tenantId = await this.#o.tenantId(tenant);
    const rows = await this.#o.db
      .selectFrom('scim_tokens')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('id')
      .execute();
    return rows.map((r) => view(r, tenant));
  }

  async revoke(actor: Principal, tenant: string, id: string): Promise<ScimTokenView> {
    if (!/^\d{1,18}$/.test(id)) {
      throw new InputError(
        `field "id": ${showValue(id)} is not a token id; "steward scim token list ${tenant}" shows them`,
        {
          field: 'id',
        },
      );
    }
    const tenantId = await this.#o.tenantId(tenant);
    return this.#o.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('scim_tokens')
        .selectAll()
        .where('id', '=', id)
        .where('tenant_id', '=', tenantId)
        .forUpdate()
        .executeTakeFirst();
      if (!row) {
        throw new NotFoundError(
          `tenant ${tenant} has no SCIM token ${id}; "steward scim token list ${tenant}" shows them`,
          {
            field: 'id',
          },
        );
      }
      const revokedAt = row.revoked_at ?? this.#o.clock.now();
      await tx.updateTable('scim_tokens').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'scim.token.revoke',
        target: `tenant/${tenant}/scim-token/${id}`,
        tenant,
        details: { name: row.name },
      });
      return view({ ...row, revoked_at: revokedAt }, tenant);
    });
  }

  /**
   * The caller of a SCIM request on `tenant`'s host, or UnauthorizedError
   * (one message for a malformed, unknown, expired, revoked or another
   * tenant's token: the answer tells nothing about other tenants).
   */
  async authenticate(token: string, tenant: string): Promise<ScimCaller> {
    const refused = new UnauthorizedError(
      'the SCIM token is missing, unknown, expired or revoked; create one with "steward scim token create <tenant>"',
    );
    if (!looksLikeScimToken(token)) throw refused;
    const digest = hash(token);
    const row = await this.#o.db
      .selectFrom('scim_tokens')
      .innerJoin('tenants', 'tenants.id', 'scim_tokens.tenant_id')
      .select([
        'scim_tokens.id',
        'scim_tokens.name',
        'scim_tokens.token_hash',
        'scim_tokens.expires_at',
        'scim_tokens.revoked_at',
        'scim_tokens.last_used_at',
        'tenants.id as tenant_id',
        'tenants.slug',
      ])
      .where('scim_tokens.token_hash', '=', digest.toString('hex'))
      .executeTakeFirst();
    const now = this.#o.clock.now();
    // The lookup is by hash (an index); the comparison of what was found is in constant time.
    const stored = Buffer.from(row?.token_hash ?? '00'.repeat(32), 'hex');
    const same = stored.length === digest.length && timingSafeEqual(stored, digest);
    if (!row || !same || row.slug !== tenant || row.revoked_at || (row.expires_at && row.expires_at <= now)) {
      throw refused;
    }
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > 60_000) {
      await this.#o.db
        .updateTable('scim_tokens')
        .set({ last_used_at: now })
        .where('id', '=', row.id)
        .execute();
    }
    return { tenantId: row.tenant_id, tenant: row.slug, tokenId: row.id, name: row.name };
  }
}

function view(
  row: {
    id: string;
    name: string;
    created_by: string;
    created_at: Date;
    expires_at: Date | null;
    last_used_at: Date | null;
    revoked_at: Date | null;
  },
  tenant: string,
): ScimTokenView {
  return {
    id: String(row.id),
    tenant,
    name: row.name,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}
