import { describe, expect, it } from 'vitest';
import type { ObservedStageDatabase } from '../../src/databases/driver.ts';
import { planStage, type ObservedStage } from '../../src/tenants/plan.ts';

const provisioned: ObservedStageDatabase = {
  serverRunning: true,
  roleExists: true,
  roleIsPlain: true,
  databaseExists: true,
  ownedByRole: true,
  publicCanConnect: false,
  connections: 0,
};
const nothing: ObservedStageDatabase = {
  serverRunning: true,
  roleExists: false,
  roleIsPlain: false,
  databaseExists: false,
  ownedByRole: false,
  publicCanConnect: false,
  connections: 0,
};
const observed = (
  database: Partial<ObservedStageDatabase>,
  filesDirExists = true,
  base = provisioned,
): ObservedStage => ({
  database: { ...base, ...database },
  filesDirExists,
});

describe('planStage', () => {
  it.each([
    ['the dedicated server is down', observed({ serverRunning: false }, false, nothing), 'ensure-server'],
    ['nothing exists', observed({}, false, nothing), 'ensure-role'],
    ['role has superuser-like privileges', observed({ roleIsPlain: false }), 'ensure-role'],
    ['database missing', observed({ databaseExists: false, ownedByRole: false }), 'ensure-database'],
    ['database owned by someone else', observed({ ownedByRole: false }), 'ensure-database'],
    ['public may connect', observed({ publicCanConnect: true }), 'restrict-access'],
    ['files directory missing', observed({}, false), 'ensure-files'],
  ] as const)('present, %s → %s', (_name, state, step) => {
    expect(planStage('present', state)).toMatchObject({ kind: 'step', step });
  });

  it('present and everything in place → converged', () => {
    expect(planStage('present', observed({}))).toEqual({ kind: 'converged' });
  });

  it.each([
    ['everything exists', observed({}), 'drop-database'],
    ['database gone, role left', observed({ databaseExists: false }), 'drop-role'],
    ['only files left', observed({}, true, nothing), 'remove-files'],
    ['a stopped dedicated server is still removed', observed({ serverRunning: false }), 'drop-database'],
  ] as const)('absent, %s → %s', (_name, state, step) => {
    expect(planStage('absent', state)).toMatchObject({ kind: 'step', step });
  });

  it('absent and nothing left → converged', () => {
    expect(planStage('absent', observed({}, false, nothing))).toEqual({ kind: 'converged' });
  });

  it('every step comes with a human reason', () => {
    const plan = planStage('present', observed({}, false, nothing));
    expect(plan.kind === 'step' && plan.reason.length > 5).toBe(true);
  });
});
