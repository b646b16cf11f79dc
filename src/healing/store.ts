import { sql } from 'kysely';
import type { HealAction } from '../alerts/contract.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { HealOutcome, HealTarget, PastAttempt } from './plan.ts';

/** One attempt as the CLI, the API and `steward alert show` see it. */
export interface HealAttemptView {
  readonly id: string;
  readonly alertId: string;
  readonly action: HealAction;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly process: string | null;
  readonly target: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly outcome: HealOutcome;
  readonly detail: string;
}

interface Row {
  readonly id: string;
  readonly alert_id: string;
  readonly action: string;
  readonly tenant_slug: string | null;
  readonly stage_name: string | null;
  readonly process: string | null;
  readonly target: string;
  readonly started_at: Date | string;
  readonly finished_at: Date | string | null;
  readonly outcome: string;
  readonly detail: string;
}

/** Lock namespace of heal targets (pg_advisory_xact_lock's first key). */
const healLockKey = 0x4845_414c;

/** The heal_attempts table: its one writer. */
export class HealAttemptStore {
  readonly #db: ControlDb;

  constructor(db: ControlDb) {
    this.#db = db;
  }

  /** Serialises decisions on one action and target across processes, until the transaction ends. */
  async lock(tx: Queryable, action: HealAction, target: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(${healLockKey}, hashtext(${`${action}:${target}`}))`.execute(tx);
  }

  /** Attempts of this action on this target that started after `since`, oldest first. */
  async history(tx: Queryable, action: HealAction, target: string, since: Date): Promise<PastAttempt[]> {
    const rows = await tx
      .selectFrom('heal_attempts')
      .select(['action', 'target', 'started_at', 'finished_at', 'outcome'])
      .where('action', '=', action)
      .where('target', '=', target)
      .where('started_at', '>', since)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      action: r.action as HealAction,
      target: r.target,
      startedAt: iso(r.started_at),
      finishedAt: r.finished_at === null ? null : iso(r.finished_at),
      outcome: r.outcome as HealOutcome,
    }));
  }

  /** The newest record of an alert's action, if any. */
  async newestOf(
    tx: Queryable,
    alertId: string,
    action: HealAction,
  ): Promise<{ outcome: HealOutcome } | undefined> {
    const row = await tx
      .selectFrom('heal_attempts')
      .select('outcome')
      .where('alert_id', '=', alertId)
      .where('action', '=', action)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { outcome: row.outcome as HealOutcome } : undefined;
  }

  /** Running attempts of the target started before `before`: Steward stopped while they ran. */
  async interruptStale(
    tx: Queryable,
    action: HealAction,
    target: string,
    before: Date,
    now: Date,
  ): Promise<void> {
    await tx
      .updateTable('heal_attempts')
      .set({ outcome: 'interrupted', finished_at: now, detail: 'cut short: Steward stopped while it ran' })
      .where('action', '=', action)
      .where('target', '=', target)
      .where('outcome', '=', 'running')
      .where('started_at', '<', before)
      .execute();
  }

  /** Every attempt still running that started before `before` (this process): returns what it ended. */
  async interruptAll(tx: Queryable, before: Date, now: Date): Promise<HealAttemptView[]> {
    const rows = await tx
      .updateTable('heal_attempts')
      .set({ outcome: 'interrupted', finished_at: now, detail: 'cut short: Steward stopped while it ran' })
      .where('outcome', '=', 'running')
      .where('started_at', '<', before)
      .returningAll()
      .execute();
    return rows.map(view);
  }

  async insert(
    tx: Queryable,
    attempt: {
      alertId: string;
      action: HealAction;
      target: HealTarget | null;
      key: string;
      at: Date;
      outcome: HealOutcome;
      detail: string;
    },
  ): Promise<HealAttemptView> {
    const row = await tx
      .insertInto('heal_attempts')
      .values({
        alert_id: attempt.alertId,
        action: attempt.action,
        tenant_slug: attempt.target?.tenant ?? null,
        stage_name: attempt.target?.stage ?? null,
        process: attempt.target?.process ?? null,
        target: attempt.key,
        started_at: attempt.at,
        finished_at: attempt.outcome === 'running' ? null : attempt.at,
        outcome: attempt.outcome,
        detail: attempt.detail.slice(0, 2000),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return view(row);
  }

  /** Ends a running attempt; a no-op when it was already ended (marked interrupted meanwhile). */
  async finish(
    tx: Queryable,
    id: string,
    outcome: 'succeeded' | 'failed',
    detail: string,
    at: Date,
  ): Promise<HealAttemptView | undefined> {
    const row = await tx
      .updateTable('heal_attempts')
      .set({ outcome, detail: detail.slice(0, 2000), finished_at: at })
      .where('id', '=', id)
      .where('outcome', '=', 'running')
      .returningAll()
      .executeTakeFirst();
    return row ? view(row) : undefined;
  }

  async forAlert(alertId: string): Promise<HealAttemptView[]> {
    const rows = await this.#db
      .selectFrom('heal_attempts')
      .selectAll()
      .where('alert_id', '=', alertId)
      .orderBy('id')
      .execute();
    return rows.map(view);
  }

  /** Newest first. */
  async list(filter: AttemptFilter & { limit: number }): Promise<HealAttemptView[]> {
    const rows = await this.#filtered(filter).orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(view);
  }

  /** One page of attempts (keyset on id). */
  async page(filter: AttemptFilter, page: PageRequest<'id'>): Promise<Page<HealAttemptView>> {
    const rows = await keysetPage(this.#filtered(filter), { sort: 'id', id: 'id' }, page);
    return { ...rows, items: rows.items.map(view) };
  }

  #filtered(filter: AttemptFilter) {
    return this.#db
      .selectFrom('heal_attempts')
      .selectAll()
      .$if(filter.tenant !== undefined, (q) => q.where('tenant_slug', '=', filter.tenant ?? ''))
      .$if(filter.alert !== undefined, (q) => q.where('alert_id', '=', filter.alert ?? ''));
  }
}

export interface AttemptFilter {
  readonly tenant?: string | undefined;
  readonly alert?: string | undefined;
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function view(row: Row): HealAttemptView {
  return {
    id: row.id,
    alertId: row.alert_id,
    action: row.action as HealAction,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    process: row.process,
    target: row.target,
    startedAt: iso(row.started_at),
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
    outcome: row.outcome as HealOutcome,
    detail: row.detail,
  };
}
