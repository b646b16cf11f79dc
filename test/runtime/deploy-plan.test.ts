import { describe, expect, it } from 'vitest';
import { nextDeployStep, type DeployStep, type ObservedDeploy } from '../../src/runtime/deploy-plan.ts';

/** A deploy of a release with one web (port 7002) and one worker over an active release (web on 7001). */
const base: ObservedDeploy = {
  status: 'pending',
  stagePresent: true,
  instances: { wanted: 2, supervised: 0, ready: 0 },
  newPorts: [],
  serving: [7001],
  oldPorts: [7001],
  oldInstances: 2,
  failure: undefined,
};
const started = { instances: { wanted: 2, supervised: 2, ready: 0 }, newPorts: [7002] };
const healthy = { instances: { wanted: 2, supervised: 2, ready: 2 }, newPorts: [7002] };

const rows: [string, Partial<ObservedDeploy>, boolean, DeployStep, RegExp?][] = [
  // A new deployment.
  ['pending, with a migration', {}, true, 'migrate'],
  ['pending, without a migration', {}, false, 'start'],
  // A crash during the migration: it runs again (the phase cannot say how far it got).
  ['migrating', { status: 'migrating' }, true, 'migrate'],
  ['migrating, the release has no migration', { status: 'migrating' }, false, 'start'],
  // Migrated: the recorded phase is all that says so.
  ['starting, nothing runs yet', { status: 'starting' }, true, 'start'],
  [
    'starting, one of two instances supervised',
    { status: 'starting', instances: { wanted: 2, supervised: 1, ready: 1 } },
    true,
    'start',
  ],
  ['starting, all supervised, not healthy', { status: 'starting', ...started }, true, 'wait-healthy'],
  [
    'starting, one healthy of two',
    { status: 'starting', ...started, instances: { wanted: 2, supervised: 2, ready: 1 } },
    true,
    'wait-healthy',
  ],
  ['starting, healthy, old release serving', { status: 'starting', ...healthy }, true, 'serve'],
  [
    'starting, healthy, both serving',
    { status: 'starting', ...healthy, serving: [7001, 7002] },
    true,
    'serve',
  ],
  // A crash between serve and mark-active: the endpoint already serves the new release.
  ['starting, healthy and serving', { status: 'starting', ...healthy, serving: [7002] }, true, 'mark-active'],
  ['pending without a migration, healthy and serving', { ...healthy, serving: [7002] }, false, 'mark-active'],
  [
    'first deploy, no web process at all',
    {
      status: 'starting',
      instances: { wanted: 1, supervised: 1, ready: 1 },
      serving: [],
      oldPorts: [],
      oldInstances: 0,
    },
    true,
    'mark-active',
  ],
  // Active: the old release goes.
  ['active, old instances serving still', { status: 'active', ...healthy, serving: [7001] }, true, 'serve'],
  ['active, old ports not retired', { status: 'active', ...healthy, serving: [7002] }, true, 'retire'],
  [
    'active, retired, old instances run',
    { status: 'active', ...healthy, serving: [7002], oldPorts: [] },
    true,
    'stop-old',
  ],
  [
    'active, old release gone',
    { status: 'active', ...healthy, serving: [7002], oldPorts: [], oldInstances: 0 },
    true,
    'done',
  ],
  [
    'active, the new web is down (the supervisor restarts it)',
    { status: 'active', ...started, serving: [], oldPorts: [], oldInstances: 0 },
    true,
    'done',
  ],
  // Failures and terminal phases.
  ['a step failed', { status: 'migrating', failure: 'the migration failed: exit 3' }, true, 'fail', /exit 3/],
  [
    'a health timeout',
    { status: 'starting', ...started, failure: 'not healthy within 30000 ms' },
    true,
    'fail',
    /not healthy/,
  ],
  [
    'the stage is being removed',
    { status: 'starting', stagePresent: false },
    true,
    'fail',
    /stage was removed/,
  ],
  ['active, the stage is being removed', { status: 'active', stagePresent: false }, true, 'done'],
  ['failed', { status: 'failed' }, true, 'done'],
  ['superseded', { status: 'superseded' }, true, 'done'],
  ['rolled back', { status: 'rolled-back' }, true, 'done'],
];

describe('nextDeployStep', () => {
  it.each(rows)('%s', (_name, observed, migrate, step, reason) => {
    const plan = nextDeployStep({ ...base, ...observed }, { migrate });
    expect(plan.step).toBe(step);
    if (reason) expect(plan.reason).toMatch(reason);
  });

  it('walks a deploy from pending to done, each step changing what it observes', () => {
    let observed: ObservedDeploy = base;
    const taken: DeployStep[] = [];
    const effects: Partial<Record<DeployStep, Partial<ObservedDeploy>>> = {
      migrate: { status: 'starting' },
      start: { ...started },
      'wait-healthy': { ...healthy },
      serve: { serving: [7002] },
      'mark-active': { status: 'active' },
      retire: { oldPorts: [] },
      'stop-old': { oldInstances: 0 },
    };
    for (let i = 0; i < 12; i++) {
      const { step } = nextDeployStep(observed, { migrate: true });
      taken.push(step);
      if (step === 'done' || step === 'fail') break;
      observed = { ...observed, ...effects[step] };
    }
    expect(taken).toEqual([
      'migrate',
      'start',
      'wait-healthy',
      'serve',
      'mark-active',
      'retire',
      'stop-old',
      'done',
    ]);
  });
});
