import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { TenantService } from '../tenants/service.ts';
import { describeTarget, resolveHttpCheck, type AddHttpCheckInput, type CheckKind } from './specs.ts';
import type { CheckStore, StoredCheck } from './store.ts';
import type { CheckState, ProbeResult } from './states.ts';

/** A check as listings show it. */
export interface CheckView {
  readonly id: string;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly kind: CheckKind;
  /** builtin: created and removed with its stage; operator: added by created_by. */
  readonly origin: 'builtin' | 'operator';
  readonly builtin: string | null;
  readonly target: string;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
  readonly state: CheckState;
  readonly since: string;
  readonly lastResult: ProbeResult | null;
  readonly createdBy: string;
}

export interface CheckServiceOptions {
  readonly store: CheckStore;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly defaultTimeoutMs: number;
}

/** Operators' checks (add, list, remove); the built-in ones follow their stages (CheckRunner). */
export class CheckService {
  readonly #o: CheckServiceOptions;

  constructor(options: CheckServiceOptions) {
    this.#o = options;
  }

  async addHttp(
    tenant: string,
    stage: string,
    input: AddHttpCheckInput,
    actor: Principal,
  ): Promise<CheckView> {
    const resolved = resolveHttpCheck(input, this.#o.defaultTimeoutMs);
    const stageId = await this.#o.tenants.stageId(tenant, stage);
    const id = await this.#o.store.add(
      {
        stageId,
        tenant,
        stage,
        kind: 'http',
        builtin: null,
        spec: resolved.spec,
        intervalSeconds: resolved.intervalSeconds,
        timeoutMs: resolved.timeoutMs,
        createdBy: actorName(actor),
      },
      this.#o.clock.now(),
      (tx, checkId) =>
        this.#o.audit.record(tx, {
          actor: actorName(actor),
          address: actor.address,
          action: 'check.add',
          target: `tenant/${tenant}/stage/${stage}/check/${checkId}`,
          details: { target: describeTarget(resolved.spec), intervalSeconds: resolved.intervalSeconds },
        }),
    );
    return this.#view(tenant, stage, id);
  }

  /** Every check of every stage of a tenant (or of one stage). */
  async list(tenant: string, stage?: string): Promise<CheckView[]> {
    if (stage === undefined) await this.#o.tenants.show(tenant);
    else await this.#o.tenants.stageId(tenant, stage);
    return (await this.#o.store.list({ tenant, ...(stage !== undefined ? { stage } : {}) })).map(toView);
  }

  /** Removes an operator's check; built-in ones go with their stage only. */
  async remove(tenant: string, id: string, actor: Principal): Promise<void> {
    const found = (await this.#o.store.list({ tenant })).find((c) => c.id === id);
    if (!found) {
      throw new NotFoundError(
        `tenant ${tenant} has no check ${showValue(id)}; "steward check list ${tenant}" lists them`,
        {
          field: 'id',
        },
      );
    }
    if (found.origin === 'builtin') {
      throw new ConflictError(
        `check ${id} is built in: it is removed with stage ${found.stage ?? ''}, not by itself`,
        { field: 'id' },
      );
    }
    await this.#o.store.remove(id, this.#o.clock.now(), (tx) =>
      this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'check.remove',
        target: `tenant/${tenant}/stage/${found.stage ?? ''}/check/${id}`,
        details: { target: describeTarget(found.spec) },
      }),
    );
  }

  async #view(tenant: string, stage: string, id: string): Promise<CheckView> {
    const [found] = await this.#o.store.list({ tenant, stage, id });
    if (!found) throw new NotFoundError(`check ${id} is gone`);
    return toView(found);
  }
}

function toView(c: StoredCheck): CheckView {
  return {
    id: c.id,
    tenant: c.tenant,
    stage: c.stage,
    kind: c.kind,
    origin: c.origin,
    builtin: c.builtin,
    target: describeTarget(c.spec),
    intervalSeconds: c.intervalSeconds,
    timeoutMs: c.timeoutMs,
    state: c.progress.state,
    since: c.progress.since,
    lastResult: c.progress.recent.at(-1) ?? null,
    createdBy: c.createdBy,
  };
}
