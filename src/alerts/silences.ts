import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import { parseDurationSeconds } from '../monitoring/specs.ts';
import type { ControlDb } from '../store/db.ts';
import { checkId, checkText } from './input.ts';
import {
  findSilence,
  insertSilence,
  listSilences,
  removeSilence,
  type NewMuteWindow,
  type SilenceView,
} from './store.ts';

/** A silence as asked for: `for` (from now) or `until`, and a reason. (Maintenance windows: src/maintenance/.) */
export interface MuteRequest {
  readonly tenant?: unknown;
  readonly stage?: unknown;
  readonly for?: unknown;
  readonly until?: unknown;
  readonly reason?: unknown;
}

export interface SilenceServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  /** The tenant's stage names; throws NotFoundError for a tenant that does not exist. */
  readonly stagesOf: (tenant: string) => Promise<readonly string[]>;
  /** Mutes changed: the alert service re-evaluates its open alerts (and tells what is no longer muted). */
  readonly changed: () => Promise<void>;
}

/** The longest a silence may last: a silence is for an incident or a migration, not forever. */
const maxSeconds = 90 * 86_400;

function time(field: string, value: unknown): Date {
  const at = typeof value === 'string' ? new Date(value) : undefined;
  if (!at || Number.isNaN(at.getTime()) || !/^\d{4}-\d\d-\d\dT/.test(value as string)) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not a time; use ISO 8601, e.g. 2026-12-24T18:00:00Z`,
      { field },
    );
  }
  return at;
}

/**
 * Silences: each mutes the notifications of a
 * tenant's alerts (or one stage's) for a while, with a reason; the alerts are
 * still recorded, with mutedBy naming what muted them. Every change is an
 * audit event.
 */
export class SilenceService {
  readonly #o: SilenceServiceOptions;

  constructor(options: SilenceServiceOptions) {
    this.#o = options;
  }

  async #window(request: MuteRequest, by: Principal): Promise<NewMuteWindow> {
    const tenant = checkText('tenant', request.tenant, 100);
    const stage =
      request.stage === undefined || request.stage === null ? null : checkText('stage', request.stage, 100);
    const stages = await this.#o.stagesOf(tenant);
    if (stage !== null && !stages.includes(stage)) {
      throw new NotFoundError(
        `field "stage": tenant ${tenant} has no stage ${showValue(stage)}; its stages are ${stages.join(', ')}`,
        { field: 'stage' },
      );
    }
    const now = this.#o.clock.now();
    const startsAt = now;
    let endsAt: Date;
    if ((request.for === undefined) === (request.until === undefined)) {
      throw new InputError(
        `field "for": give how long (for, e.g. 2h) or until when (until, ISO 8601), one of them: a silence needs an end`,
        { field: 'for' },
      );
    }
    if (request.for !== undefined) {
      const seconds = parseDurationSeconds('for', request.for);
      if (seconds < 1 || seconds > maxSeconds) {
        throw new InputError(`field "for": ${showValue(request.for)} is not accepted; use 1s to 90 days`, {
          field: 'for',
        });
      }
      endsAt = new Date(startsAt.getTime() + seconds * 1000);
    } else {
      endsAt = time('until', request.until);
      if (endsAt <= startsAt || endsAt.getTime() - startsAt.getTime() > maxSeconds * 1000) {
        throw new InputError(
          `field "until": ${showValue(request.until)} is not accepted; use a time after ${startsAt.toISOString()} and at most 90 days later`,
          { field: 'until' },
        );
      }
    }
    return {
      tenant,
      stage,
      reason: checkText('reason', request.reason, 500),
      startsAt,
      endsAt,
      createdBy: actorName(by),
    };
  }

  async add(request: MuteRequest, by: Principal): Promise<SilenceView> {
    const wanted = await this.#window(request, by);
    const silence = await this.#o.db.transaction().execute(async (tx) => {
      const added = await insertSilence(tx, wanted);
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        action: 'silence.add',
        target: `silence:${added.id}`,
        tenant: added.tenant,
        address: by.address,
        details: { stage: added.stage, endsAt: added.endsAt, reason: added.reason },
      });
      return added;
    });
    await this.#o.changed();
    return silence;
  }

  list(options: { all?: boolean } = {}): Promise<SilenceView[]> {
    return listSilences(this.#o.db, { now: this.#o.clock.now(), ...options });
  }

  async remove(id: string, by: Principal): Promise<SilenceView> {
    checkId(id, 'a silence');
    const removed = await this.#o.db.transaction().execute(async (tx) => {
      const done = await removeSilence(tx, id, actorName(by), this.#o.clock.now());
      if (!done) {
        const existing = await findSilence(tx, id);
        throw new NotFoundError(
          existing ? `silence ${id} was already removed` : `no silence ${showValue(id)}`,
          { field: 'id' },
        );
      }
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        action: 'silence.remove',
        target: `silence:${id}`,
        tenant: done.tenant,
        address: by.address,
      });
      return done;
    });
    await this.#o.changed();
    return removed;
  }
}
