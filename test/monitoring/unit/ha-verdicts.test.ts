import { describe, expect, it } from 'vitest';
import {
  drillProblems,
  haLeaderVerdict,
  haMembersVerdict,
  haReplicationVerdict,
  membersToReinit,
  membersToStart,
  rejoined,
  type HaClusterSeen,
  type HaMemberSeen,
} from '../../../src/monitoring/ha-verdicts.ts';

const m = (name: string, p: Partial<HaMemberSeen> = {}): HaMemberSeen => ({
  name,
  reachable: true,
  role: 'replica',
  state: 'running',
  timeline: 3,
  lagBytes: 0,
  ...p,
});
const cluster = (members: HaMemberSeen[], leader: string | null = 'a'): HaClusterSeen => ({
  scope: 's',
  leader,
  members,
});
const primary = m('a', { role: 'primary', lagBytes: null });
const down = (name: string): HaMemberSeen =>
  m(name, { reachable: false, role: 'unknown', state: 'unreachable', timeline: null, lagBytes: null });

describe('ha verdicts', () => {
  it.each([
    { name: 'all answer', c: cluster([primary, m('b'), m('c')]), want: 'ok' },
    { name: 'one down', c: cluster([primary, down('b'), m('c')]), want: 'degraded', detail: 'b is down' },
    { name: 'none', c: cluster([down('a'), down('b'), down('c')], null), want: 'fail' },
  ])('members: $name', ({ c, want, detail }) => {
    const v = haMembersVerdict(c);
    expect(v.outcome).toBe(want);
    if (detail) expect(v.detail).toContain(detail);
  });

  it.each([
    { name: 'streaming', c: cluster([primary, m('b'), m('c', { lagBytes: 100 })]), want: 'ok' },
    {
      name: 'lag over the bound',
      c: cluster([primary, m('b', { lagBytes: 64 * 1024 * 1024 }), m('c')]),
      want: 'degraded',
      detail: 'b is 64.0 MiB behind',
    },
    {
      name: 'an old timeline: not rejoined',
      c: cluster([primary, m('b', { timeline: 2 }), m('c')]),
      want: 'degraded',
      detail: 'timeline 2',
    },
    {
      name: 'stuck: needs a reinit',
      c: cluster([primary, m('b', { state: 'start failed' }), m('c')]),
      want: 'fail',
      detail: 'needs a reinit',
    },
    { name: 'a member down is not its business', c: cluster([primary, down('b'), m('c')]), want: 'ok' },
  ])('replication: $name', ({ c, want, detail }) => {
    const v = haReplicationVerdict(c);
    expect(v.outcome).toBe(want);
    if (detail) expect(v.detail).toContain(detail);
  });

  it.each([
    { name: 'one leader', c: cluster([primary, m('b'), m('c')]), want: 'ok' },
    { name: 'no leader', c: cluster([m('a'), m('b'), m('c')], null), want: 'fail', detail: 'no leader' },
    {
      name: 'split brain',
      c: cluster([primary, m('b', { role: 'primary' }), m('c')]),
      want: 'fail',
      detail:
        'split brain: a and b run as primary; only a holds the leader key and the router routes to it alone',
    },
    {
      name: 'the key holder does not answer',
      c: cluster([down('a'), m('b'), m('c')]),
      want: 'fail',
      detail: 'does not answer',
    },
  ])('leader: $name', ({ c, want, detail }) => {
    const v = haLeaderVerdict(c);
    expect(v.outcome).toBe(want);
    if (detail) expect(v.detail).toContain(detail);
  });

  it('healing: starts what is down; reinits only what is stuck, only under a healthy leader', () => {
    expect(membersToStart(cluster([primary, down('b'), m('c')]))).toEqual(['b']);
    expect(membersToReinit(cluster([primary, m('b', { state: 'crashed' }), m('c')])).members).toEqual(['b']);
    expect(membersToReinit(cluster([primary, m('b', { lagBytes: 1e9 }), m('c')])).members).toEqual([]);
    const split = membersToReinit(
      cluster([primary, m('b', { state: 'crashed' }), m('c', { role: 'primary' })]),
    );
    expect(split.members).toEqual([]);
    expect(split.why).toContain('split brain');
  });

  it('a drill needs a fit cluster; rejoined means streaming on the leader timeline', () => {
    expect(drillProblems(cluster([primary, m('b'), m('c')]))).toEqual([]);
    expect(drillProblems(cluster([primary, down('b'), m('c')]))).toHaveLength(1);
    expect(rejoined(cluster([primary, m('b'), m('c')]), 'b')).toBe(true);
    expect(rejoined(cluster([primary, m('b', { timeline: 2 }), m('c')]), 'b')).toBe(false);
    expect(rejoined(cluster([primary, m('b', { state: 'starting' }), m('c')]), 'b')).toBe(false);
    expect(rejoined(cluster([primary, m('b'), m('c')]), 'a')).toBe(false);
  });
});
