import { CheckStore } from '../../src/monitoring/index.ts';
import type { CheckState } from '../../src/monitoring/states.ts';
import type { HttpSpec } from '../../src/monitoring/specs.ts';
import type { ControlDb } from '../../src/store/db.ts';
import type { TestSteward } from '../harness/steward.ts';

const spec: HttpSpec = {
  kind: 'http',
  via: 'gateway',
  method: 'GET',
  path: null,
  expectStatus: null,
  expectBody: null,
  headers: {},
};

/**
 * A stage's built-in gateway check with the given state changes, written
 * through the monitoring store's own writer (as the check runner would).
 */
export async function gatewayCheckHistory(
  st: TestSteward,
  db: ControlDb,
  tenant: string,
  stage: string,
  changes: readonly (readonly [number, CheckState])[],
): Promise<string> {
  const store = new CheckStore(db);
  const first = changes[0]?.[0] ?? Date.now();
  const checkId = await store.add(
    {
      stageId: await st.services.tenants.stageId(tenant, stage),
      tenant,
      stage,
      kind: 'http',
      builtin: 'gateway',
      spec,
      intervalSeconds: 30,
      timeoutMs: 5000,
      createdBy: 'steward',
    },
    new Date(first - 60_000),
  );
  let from: CheckState = 'unknown';
  for (const [ms, to] of changes) {
    const at = new Date(ms).toISOString();
    const result = {
      at,
      outcome: to === 'up' ? 'ok' : 'fail',
      latencyMs: 12,
      detail: `GET / answered 200`,
    } as const;
    await store.record(checkId, { state: to, since: at, lastProbeAt: at, recent: [result] }, [
      {
        at,
        from,
        to,
        cause:
          to === 'unknown'
            ? { kind: 'not-probing', reason: 'Steward was stopped', lastProbeAt: at }
            : { kind: 'probes', results: [result] },
      },
    ]);
    from = to;
  }
  return checkId;
}
