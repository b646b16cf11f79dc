import { describe, expect, it } from 'vitest';
import {
  afterAnswer,
  expire,
  leaseTiming,
  validUntil,
  type LeaseAnswer,
  type LeaseState,
} from '../../../src/cluster/leases.ts';
import { defaultNodeName, heartbeatMs, nodeHealth, registration } from '../../../src/cluster/nodes.ts';
import { parseConfig } from '../../../src/core/config.ts';
import { healOnHolder } from '../../../src/cluster/singletons.ts';
import type { AlertView } from '../../../src/alerts/contract.ts';

const timing = leaseTiming(9000); // renew every 3 s
const acquiredAt = new Date('2026-12-07T07:00:00Z');
const follower: LeaseState = { kind: 'follower' };
const holder = (epoch: string, validUntilMs: number): LeaseState => ({
  kind: 'holder',
  term: { name: 'operations', epoch, acquiredAt },
  validUntilMs,
});
const held = (epoch: string): LeaseAnswer => ({ kind: 'held', epoch, acquiredAt });
const taken: LeaseAnswer = { kind: 'taken', node: 'node-b', expiresAt: acquiredAt };
const failed: LeaseAnswer = { kind: 'failed', error: 'connection refused' };

describe('lease timing', () => {
  it('renews every third of the ttl and works until one renew interval before the ttl from sending', () => {
    expect(timing).toEqual({ ttlMs: 9000, renewMs: 3000 });
    expect(validUntil(1000, timing)).toBe(7000);
    expect(leaseTiming(150).renewMs).toBe(100);
  });
});

describe('afterAnswer: what a node does with the answer to its acquire-or-renew', () => {
  // [what, state, answer, sent at, now, next state kind, change]
  const table: [string, LeaseState, LeaseAnswer, number, number, LeaseState['kind'], string][] = [
    ['a follower that got the lease begins a term', follower, held('1'), 0, 10, 'holder', 'began'],
    ['a follower refused stays a follower', follower, taken, 0, 10, 'follower', 'none'],
    ['a follower whose statement failed stays a follower', follower, failed, 0, 10, 'follower', 'none'],
    ['a holder renewed keeps its term', holder('4', 6000), held('4'), 3000, 3010, 'holder', 'kept'],
    [
      'a holder that sees a new epoch lost its term meanwhile',
      holder('4', 6000),
      held('6'),
      3000,
      3010,
      'follower',
      'lost',
    ],
    ['a holder told another node holds it stops', holder('4', 6000), taken, 3000, 3010, 'follower', 'lost'],
    [
      'a failed renewal within the term changes nothing yet',
      holder('4', 6000),
      failed,
      3000,
      3500,
      'holder',
      'none',
    ],
    ['a failed renewal past the term ends it', holder('4', 6000), failed, 3000, 6000, 'follower', 'lost'],
    [
      'an answer that arrives past its own term is not trusted',
      holder('4', 6000),
      held('4'),
      0,
      6001,
      'follower',
      'lost',
    ],
    ['a late answer to a follower begins nothing', follower, held('1'), 0, 6001, 'follower', 'none'],
  ];
  it.each(table)('%s', (_what, state, answer, sentAt, now, kind, change) => {
    const next = afterAnswer(state, answer, sentAt, now, timing, 'operations');
    expect(next.state.kind).toBe(kind);
    expect(next.change.kind).toBe(change);
    if (next.state.kind === 'holder' && answer.kind === 'held')
      expect(next.state.validUntilMs).toBe(sentAt + 6000);
  });

  it('says why a term ended', () => {
    const next = afterAnswer(holder('4', 6000), taken, 3000, 3010, timing, 'operations');
    expect(next.change).toEqual({ kind: 'lost', reason: 'node node-b holds the lease' });
    const late = afterAnswer(holder('4', 6000), failed, 3000, 7000, timing, 'operations');
    expect(late.change).toEqual({ kind: 'lost', reason: 'not renewed in time: connection refused' });
  });

  it('a term carries the lease name, its epoch and when it was taken', () => {
    const next = afterAnswer(follower, held('7'), 0, 1, timing, 'operations');
    expect(next.change).toEqual({ kind: 'began', term: { name: 'operations', epoch: '7', acquiredAt } });
  });
});

describe('expire: a holder stops at its deadline even when no answer ever comes', () => {
  it.each([
    [holder('1', 6000), 5999, 'holder'],
    [holder('1', 6000), 6000, 'follower'],
    [follower, 10_000, 'follower'],
  ] as const)('%j at %d', (state, now, kind) => {
    expect(expire(state, now).state.kind).toBe(kind);
  });
});

describe('node names and health', () => {
  const me = { host: 'box', pid: 200, processStartedAt: 5000 };
  const alive = (pid: number): boolean => pid === 100 || pid === 200;
  const row = (
    over: Partial<{
      host: string;
      pid: number;
      processStartedAt: number;
      heartbeatAgeMs: number;
      stopped: boolean;
    }>,
  ) => ({
    incarnation: 'inc-1',
    host: 'box',
    pid: 100,
    processStartedAt: 1000,
    heartbeatAgeMs: 500,
    stopped: false,
    ...over,
  });
  it.each([
    ['no row: a new node', undefined, 'new'],
    ['a stopped node frees its name', row({ stopped: true }), 'take-over'],
    ['a node silent for longer than a lease is gone', row({ heartbeatAgeMs: 10_001 }), 'take-over'],
    ['a dead process on this host: its restart takes over at once', row({ pid: 99 }), 'take-over'],
    ['a live process on this host is refused', row({}), 'refuse'],
    [
      'this pid, used before by a process that started earlier (a container restarted)',
      row({ pid: 200 }),
      'take-over',
    ],
    [
      'this very process, under the name already (a second Steward in it)',
      row({ pid: 200, processStartedAt: 5000 }),
      'refuse',
    ],
    ['a live node on another host is refused', row({ host: 'other', pid: 99 }), 'refuse'],
  ] as const)('%s', (_what, existing, kind) => {
    expect(registration(existing, me, 10_000, alive).kind).toBe(kind);
  });

  it('a refusal says whose the name is', () => {
    expect(registration(row({ heartbeatAgeMs: 1234 }), me, 10_000, alive)).toEqual({
      kind: 'refuse',
      reason: 'a live node has this name: process 100 on box, last heartbeat 1.2 s ago',
    });
    expect(registration(row({ pid: 99 }), me, 10_000, alive)).toEqual({
      kind: 'take-over',
      predecessor: 'inc-1',
      dead: true,
    });
  });

  it('beats every 2 s, or every third of a shorter lease', () => {
    expect(heartbeatMs(10_000)).toBe(2000);
    expect(heartbeatMs(3000)).toBe(1000);
  });

  it.each([
    [0, false, 'live'],
    [4000, false, 'live'],
    [4001, false, 'late'],
    [10_000, false, 'late'],
    [10_001, false, 'gone'],
    [0, true, 'gone'],
  ] as const)('heartbeat %d ms ago, stopped %s: %s', (age, stopped, health) => {
    expect(nodeHealth({ heartbeatAgeMs: age, stopped }, 10_000)).toBe(health);
  });

  it('the default name is the host name made valid', () => {
    expect(defaultNodeName('Steward-1.Example.COM')).toBe('steward-1.example.com');
    expect(defaultNodeName('_x_y')).toBe('x-y');
    expect(defaultNodeName('')).toBe('steward');
  });

  it('config: node.name is checked, node.leaseSeconds defaults to 10', () => {
    expect(parseConfig({ dataDir: '/x' }).node).toEqual({ leaseSeconds: 10 });
    expect(() => parseConfig({ dataDir: '/x', node: { name: 'Bad Name' } })).toThrow(
      /config field node\.name: must be a host-name-like name/,
    );
    expect(() => parseConfig({ dataDir: '/x', node: { leaseSeconds: 0 } })).toThrow(/node\.leaseSeconds/);
  });
});

describe('healOnHolder', () => {
  it('heals only while this node holds the operations lease', async () => {
    const healed: string[] = [];
    let holds = false;
    const healer = healOnHolder(
      {
        heal: (alert) => {
          healed.push(alert.id);
          return Promise.resolve();
        },
      },
      () => holds,
    );
    const alert = { id: '7' } as AlertView;
    await healer.heal(alert, 'restart-process');
    holds = true;
    await healer.heal(alert, 'restart-process');
    expect(healed).toEqual(['7']);
  });
});
