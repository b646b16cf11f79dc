import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import {
  ForbiddenError,
  InputError,
  NotFoundError,
  UnauthorizedError,
  showValue,
} from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';
import type { LoginLog, SignInPlace } from '../contracts.ts';
import {
  checkBoundedInteger,
  checkReason,
  defaultBreakGlassMinutes,
  grantState,
  hashLinkToken,
  looksLikeLinkToken,
  maxBreakGlassMinutes,
  newLinkToken,
  redeemRefusal,
  type GrantState,
} from './rules.ts';

/**
 * Break-glass: an operator's time-limited way into a tenant's stage that
 * requires sign-in. Opening one needs a reason and has an end; it prints a
 * one-time link to the stage's own host, which opens an edge session for the
 * operator (amr `break_glass`) that ends with the grant. Each step is audited
 * and written to the tenant's login log, and the tenant's admins list them.
 * Without a grant an operator has no session on such a stage.
 */

/** The edge sessions (id-edge's SessionService) as break-glass uses them. */
export interface BreakGlassSessions<S extends { readonly sid: string }> {
  open(
    place: SignInPlace,
    who: { readonly kind: 'operator'; readonly name: string },
    amr: readonly string[],
    expiresAt: Date,
  ): Promise<S>;
  revokeSession(sid: string): Promise<unknown>;
}

export interface BreakGlassView {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly operator: string;
  readonly reason: string;
  readonly state: GrantState;
  readonly openedAt: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
  readonly closedAt: string | null;
  readonly closedBy: string | null;
}

export interface BreakGlassServiceOptions<S extends { readonly sid: string }> {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly sessions: BreakGlassSessions<S>;
  /** id-local's login log: every grant, use and close is a line the tenant reads. */
  readonly loginLog: LoginLog;
  /** https://<stage host>[:port] of a stage, where `/.steward/auth/` is served. */
  readonly stageOrigin: (tenant: string, stage: string) => string;
}

export interface OpenInput {
  readonly reason: string;
  readonly minutes?: number | undefined;
}

type GrantRow = {
  id: string;
  tenant_id: string;
  slug: string;
  stage: string;
  operator: string;
  reason: string;
  link_used_at: Date | null;
  session_id: string | null;
  opened_at: Date;
  expires_at: Date;
  closed_at: Date | null;
  closed_by: string | null;
};

export class BreakGlassService<S extends { readonly sid: string } = { readonly sid: string }> {
  readonly #o: BreakGlassServiceOptions<S>;

  constructor(options: BreakGlassServiceOptions<S>) {
    this.#o = options;
  }

  /** Opens a grant for the calling operator; the link is shown once (only its hash is kept). */
  async open(
    slug: string,
    stage: string,
    input: OpenInput,
    actor: Principal,
  ): Promise<{ grant: BreakGlassView; link: string }> {
    if (actor.kind !== 'operator' || !actor.operatorId) {
      throw new ForbiddenError('only an operator signed in with its own account may open break-glass access');
    }
    if (!actor.accountAccess) {
      throw new ForbiddenError(
        'an API token may not open break-glass access: it needs the operator\'s own sign-in ("steward login")',
      );
    }
    const reason = checkReason(input.reason);
    const minutes = checkBoundedInteger(
      'minutes',
      input.minutes ?? defaultBreakGlassMinutes,
      1,
      maxBreakGlassMinutes,
      'minutes',
    );
    const now = this.#o.clock.now();
    const link = newLinkToken('breakGlass');
    const id = await this.#o.db.transaction().execute(async (tx) => {
      const place = await this.#stage(tx, slug, stage);
      const row = await tx
        .insertInto('break_glass_grants')
        .values({
          tenant_id: place.tenantId,
          stage,
          operator_id: actor.operatorId,
          operator: actor.username,
          reason,
          link_hash: link.hash,
          opened_at: now,
          expires_at: new Date(now.getTime() + minutes * 60_000),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'break-glass.open',
        target: `break-glass/${row.id}`,
        tenant: slug,
        details: { stage, reason, minutes },
      });
      return row.id;
    });
    await this.#log(
      place0(slug, stage),
      actor.username,
      'success',
      actor.address,
      `granted for ${minutes} min (grant ${id}): ${reason}`,
    );
    const grant = await this.show(id);
    const url = new URL('/.steward/auth/break-glass', this.#o.stageOrigin(slug, stage));
    url.searchParams.set('token', link.token);
    return { grant, link: url.toString() };
  }

  /**
   * The link's page on the stage's host: checks the token for this place,
   * marks it used (once, under the row's lock) and opens the edge session,
   * which ends when the grant does.
   */
  async redeem(place: SignInPlace, token: string): Promise<{ session: S; grant: BreakGlassView }> {
    const refused = (why: string): UnauthorizedError =>
      new UnauthorizedError(`break-glass refused: ${why}`, { field: 'token' });
    if (!looksLikeLinkToken('breakGlass', token)) throw refused('the link is malformed');
    const now = this.#o.clock.now();
    const claimed = await this.#o.db.transaction().execute(async (tx) => {
      const row = await this.#grants(tx)
        .where('break_glass_grants.link_hash', '=', hashLinkToken(token))
        .forUpdate('break_glass_grants')
        .executeTakeFirst();
      if (!row) return { kind: 'refused', refusal: 'the link is unknown', operator: null } as const;
      const refusal = redeemRefusal(
        {
          tenantId: row.tenant_id,
          stage: row.stage,
          linkUsedAt: row.link_used_at,
          expiresAt: row.expires_at,
          closedAt: row.closed_at,
        },
        place,
        now,
      );
      if (refusal) return { kind: 'refused', refusal, operator: row.operator } as const;
      await tx
        .updateTable('break_glass_grants')
        .set({ link_used_at: now })
        .where('id', '=', row.id)
        .execute();
      return { kind: 'claimed', row } as const;
    });
    if (claimed.kind === 'refused') {
      await this.#log(place, claimed.operator, 'failure', place.address, claimed.refusal);
      throw refused(claimed.refusal);
    }
    const row = claimed.row;
    const session = await this.#o.sessions.open(
      place,
      { kind: 'operator', name: row.operator },
      ['break_glass'],
      row.expires_at,
    );
    // The link is spent before the session opens: a crash in between costs the operator a new grant, never a second session.
    const kept = await this.#o.db.transaction().execute(async (tx) => {
      // Closed while the session opened: close saw no session to revoke, so it is revoked here.
      const updated = await tx
        .updateTable('break_glass_grants')
        .set({ session_id: session.sid })
        .where('id', '=', row.id)
        .where('closed_at', 'is', null)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return false;
      await this.#o.audit.record(tx, {
        actor: `operator:${row.operator}`,
        address: place.address,
        action: 'break-glass.use',
        target: `break-glass/${row.id}`,
        tenant: row.slug,
        details: { stage: row.stage, host: place.host },
      });
      return true;
    });
    if (!kept) {
      await this.#o.sessions.revokeSession(session.sid);
      throw refused('this break-glass access was closed');
    }
    await this.#log(
      place,
      row.operator,
      'success',
      place.address,
      `signed in (grant ${row.id}): ${row.reason}`,
    );
    return { session, grant: toView({ ...row, link_used_at: now, session_id: session.sid }, now) };
  }

  /** Grants of a tenant, newest first (its admins read them too). */
  async list(slug: string): Promise<BreakGlassView[]> {
    const tenant = await this.#o.db
      .selectFrom('tenants')
      .select('id')
      .where('slug', '=', slug)
      .executeTakeFirst();
    if (!tenant) throw new NotFoundError(`tenant ${showValue(slug)} does not exist`, { field: 'tenant' });
    const now = this.#o.clock.now();
    const rows = await this.#grants(this.#o.db)
      .where('break_glass_grants.tenant_id', '=', tenant.id)
      .orderBy('break_glass_grants.id', 'desc')
      .execute();
    return rows.map((r) => toView(r, now));
  }

  async show(id: string): Promise<BreakGlassView> {
    return toView(await this.#find(this.#o.db, id), this.#o.clock.now());
  }

  /** Ends a grant before its time: the session it opened is revoked at once. Closing twice is a no-op. */
  async close(id: string, actor: Principal): Promise<BreakGlassView> {
    if (actor.kind === 'tenant-admin')
      throw new ForbiddenError('a tenant admin may not close break-glass access; an operator does');
    const now = this.#o.clock.now();
    const row = await this.#o.db.transaction().execute(async (tx) => {
      const found = await this.#find(tx, id, true);
      if (found.closed_at) return found;
      await tx
        .updateTable('break_glass_grants')
        .set({ closed_at: now, closed_by: actorName(actor) })
        .where('id', '=', id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'break-glass.close',
        target: `break-glass/${id}`,
        tenant: found.slug,
        details: { stage: found.stage, sessionRevoked: found.session_id !== null },
      });
      return { ...found, closed_at: now, closed_by: actorName(actor) };
    });
    // After the commit. A crash before the revoke leaves the session until the grant's end; closing again revokes it (this line runs for a closed grant too).
    if (row.session_id) await this.#o.sessions.revokeSession(row.session_id);
    if (row.closed_at?.getTime() === now.getTime()) {
      await this.#log(
        place0(row.slug, row.stage),
        row.operator,
        'success',
        actor.address,
        `closed by ${actorName(actor)} (grant ${id})`,
      );
    }
    return toView(row, now);
  }

  async #find(db: Queryable, id: string, lock = false): Promise<GrantRow> {
    if (!/^\d{1,18}$/.test(id)) {
      throw new InputError(
        `break-glass id ${showValue(id)} is not a number; "steward break-glass list <tenant>" shows the ids`,
        { field: 'id' },
      );
    }
    let query = this.#grants(db).where('break_glass_grants.id', '=', id);
    if (lock) query = query.forUpdate('break_glass_grants');
    const row = await query.executeTakeFirst();
    if (!row)
      throw new NotFoundError(`no break-glass grant ${id}; "steward break-glass list <tenant>" shows them`, {
        field: 'id',
      });
    return row;
  }

  #grants(db: Queryable) {
    return db
      .selectFrom('break_glass_grants')
      .innerJoin('tenants', 'tenants.id', 'break_glass_grants.tenant_id')
      .select([
        'break_glass_grants.id',
        'break_glass_grants.tenant_id',
        'tenants.slug',
        'break_glass_grants.stage',
        'break_glass_grants.operator',
        'break_glass_grants.reason',
        'break_glass_grants.link_used_at',
        'break_glass_grants.session_id',
        'break_glass_grants.opened_at',
        'break_glass_grants.expires_at',
        'break_glass_grants.closed_at',
        'break_glass_grants.closed_by',
      ]);
  }

  async #stage(tx: Queryable, slug: string, stage: string): Promise<{ tenantId: string }> {
    const row = await tx
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select('tenants.id')
      .where('tenants.slug', '=', slug)
      .where('stages.name', '=', stage)
      .executeTakeFirst();
    if (!row)
      throw new NotFoundError(`tenant ${showValue(slug)} has no stage ${showValue(stage)}`, {
        field: 'stage',
      });
    return { tenantId: row.id };
  }

  async #log(
    place: { tenantId?: string; tenant: string; stage: string },
    operator: string | null,
    outcome: 'success' | 'failure',
    address: string | null,
    detail: string,
  ): Promise<void> {
    const tenantId =
      place.tenantId ??
      (
        await this.#o.db
          .selectFrom('tenants')
          .select('id')
          .where('slug', '=', place.tenant)
          .executeTakeFirst()
      )?.id;
    if (!tenantId) return;
    await this.#o.loginLog.record({
      tenantId,
      stage: place.stage,
      userId: null,
      userName: operator === null ? null : `operator:${operator}`,
      method: 'break_glass',
      outcome,
      reason: outcome === 'failure' ? 'not_allowed' : null,
      address,
      detail: detail.slice(0, 600),
    });
  }
}

function place0(tenant: string, stage: string): { tenant: string; stage: string } {
  return { tenant, stage };
}

function toView(r: GrantRow, now: Date): BreakGlassView {
  return {
    id: r.id,
    tenant: r.slug,
    stage: r.stage,
    operator: r.operator,
    reason: r.reason,
    state: grantState({ linkUsedAt: r.link_used_at, expiresAt: r.expires_at, closedAt: r.closed_at }, now),
    openedAt: r.opened_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    usedAt: r.link_used_at?.toISOString() ?? null,
    closedAt: r.closed_at?.toISOString() ?? null,
    closedBy: r.closed_by,
  };
}
