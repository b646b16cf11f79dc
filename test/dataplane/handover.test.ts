import { describe, expect, it } from 'vitest';
import {
  appServers,
  planRetireRemove,
  planServe,
  planSleep,
  portOfAppServer,
  type AppServer,
} from '../../src/dataplane/handover.ts';
import type { ServerStateRow } from '../../src/dataplane/runtime-api.ts';

/** The handover planners: what HAProxy shows and what the runtime wants in, runtime API steps out. */

const ready = (port: number): AppServer => ({ port, admin: 'ready', weight: 1, running: true });
const drain = (port: number): AppServer => ({ port, admin: 'drain', weight: 1, running: true });
const maint = (port: number): AppServer => ({ port, admin: 'maint', weight: 1, running: false });
/** As a reload leaves a draining instance: rendered `weight 0`, admin state clear. */
const reloadedDrain = (port: number): AppServer => ({ port, admin: 'ready', weight: 0, running: true });

describe('handover planners', () => {
  it.each([
    [
      'a first instance',
      [],
      [8001],
      [
        { kind: 'add', port: 8001 },
        { kind: 'ready', port: 8001 },
      ],
    ],
    [
      'a deploy: the new one serves before the old one drains',
      [ready(8001)],
      [8002],
      [
        { kind: 'add', port: 8002 },
        { kind: 'ready', port: 8002 },
        { kind: 'drain', port: 8001 },
      ],
    ],
    [
      'a rollback while the old one drains',
      [drain(8001), ready(8002)],
      [8001],
      [
        { kind: 'ready', port: 8001 },
        { kind: 'drain', port: 8002 },
      ],
    ],
    [
      'a rollback after a reload rendered it weight 0',
      [reloadedDrain(8001), ready(8002)],
      [8001],
      [
        { kind: 'weight', port: 8001 },
        { kind: 'drain', port: 8002 },
      ],
    ],
    ['a wake: the instance in maintenance serves', [maint(8001)], [8001], [{ kind: 'ready', port: 8001 }]],
    ['already so: nothing', [ready(8001), drain(8002)], [8001], []],
    [
      'a repeated port counts once',
      [],
      [8001, 8001],
      [
        { kind: 'add', port: 8001 },
        { kind: 'ready', port: 8001 },
      ],
    ],
  ] as const)('serve: %s', (_, observed, ports, steps) => {
    expect(planServe(observed, ports)).toEqual(steps);
  });

  it('retire removes what does not serve; what a later serve named stays', () => {
    expect(planRetireRemove([drain(8001), ready(8002), maint(8003)], [8001, 8002, 8003, 8004])).toEqual([
      { kind: 'maint', port: 8001 },
      { kind: 'delete', port: 8001 },
      { kind: 'delete', port: 8003 },
    ]);
  });

  it('sleep puts every instance in maintenance', () => {
    expect(planSleep([ready(8001), drain(8002), maint(8003)])).toEqual([
      { kind: 'maint', port: 8001 },
      { kind: 'maint', port: 8002 },
    ]);
  });

  it('reads app instances from show servers state, by name, and nothing else', () => {
    const row = (server: string, adminState: number, weight = 1): ServerStateRow => ({
      backend: 'st_1',
      server,
      address: '127.0.0.1',
      port: 1,
      operationalState: 2,
      adminState,
      weight,
    });
    expect(
      appServers([
        row('activator', 0),
        row('p8001', 0),
        row('p8002', 8),
        row('p8003', 1),
        row('p8004', 0, 0),
        row('slot1', 0),
      ]),
    ).toEqual([ready(8001), drain(8002), { ...maint(8003), running: true }, reloadedDrain(8004)]);
    expect([
      portOfAppServer('p0'),
      portOfAppServer('p65536'),
      portOfAppServer('p08001'),
      portOfAppServer('p443'),
    ]).toEqual([undefined, undefined, undefined, 443]);
  });
});
