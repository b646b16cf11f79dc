import { formatBytes } from '../cli/output.ts';
import type { Verdict } from './verdicts.ts';

/**
 * What an ha cluster looks like from outside, and what it means: pure
 * functions for the ha checks (member down, replication, leader and split
 * brain) and for the drills' "healthy" and "rejoined". The driver fills
 * HaClusterSeen from each member's own Patroni REST API (`GET /patroni`: its
 * role as PostgreSQL reports it) and from the cluster view (`GET /cluster`:
 * who holds the leader key, each replica's lag and timeline).
 */
export interface HaMemberSeen {
  readonly name: string;
  /** Its Patroni REST API answered. */
  readonly reachable: boolean;
  /** What the member itself says it runs as: primary (read-write) or replica; unknown when unreachable. */
  readonly role: 'primary' | 'replica' | 'unknown';
  /** Patroni's state of its PostgreSQL: running, streaming, starting, stopped, start failed, crashed, … */
  readonly state: string;
  readonly timeline: number | null;
  /** Bytes behind the leader, from the cluster view; null when unknown (or the leader itself). */
  readonly lagBytes: number | null;
}

export interface HaClusterSeen {
  /** The Patroni scope. */
  readonly scope: string;
  /** The member holding the leader key in etcd; null: none (no primary is elected). */
  readonly leader: string | null;
  /** Every member Steward placed for the cluster, whether it answers or not. */
  readonly members: readonly HaMemberSeen[];
}

/** Replication lag over this is a problem: 16 MiB of WAL, one segment, is seconds of writes at most. */
export const defaultMaxLagBytes = 16 * 1024 * 1024;

/** Patroni states of a member that will not come right by waiting: a reinit is the way back. */
export const stuckStates = ['start failed', 'crashed', 'restart failed'] as const;

const isStuck = (m: HaMemberSeen): boolean => (stuckStates as readonly string[]).includes(m.state);
/** Patroni 3.0 reports a streaming replica's state as "running"; later versions as "streaming". */
const isUp = (m: HaMemberSeen): boolean => m.reachable && (m.state === 'running' || m.state === 'streaming');

/**
 * Members: every member's Patroni answers. One member down is degraded (the
 * cluster serves, with less redundancy); none answering is a failure.
 * Healing starts the members that are down (start-ha-member).
 */
export function haMembersVerdict(seen: HaClusterSeen): Verdict {
  const down = seen.members.filter((m) => !m.reachable);
  const head = `${seen.members.length - down.length} of ${seen.members.length} members answer`;
  if (down.length === 0) return { outcome: 'ok', detail: head };
  return {
    outcome: down.length === seen.members.length ? 'fail' : 'degraded',
    detail: `${head}; ${down.map((m) => `${m.name} is down (its Patroni does not answer)`).join('; ')}`,
  };
}

/**
 * Replication: each other member that answers runs as a replica of the
 * leader, on its timeline, within `maxLagBytes`. A member stuck (its
 * PostgreSQL failed to start or crashed: waiting will not help) is a
 * failure, which healing answers with a reinit (reinit-ha-member); one
 * starting, on an older timeline (not rejoined after a failover), not
 * streaming or lagging over the bound is degraded. Members that are down
 * are the members check's.
 */
export function haReplicationVerdict(seen: HaClusterSeen, maxLagBytes = defaultMaxLagBytes): Verdict {
  const leader = seen.members.find((m) => m.name === seen.leader);
  if (!leader) return { outcome: 'ok', detail: 'no leader to replicate from (the leader check says why)' };
  const others = seen.members.filter((m) => m.name !== seen.leader && m.reachable);
  const stuck = others.filter(isStuck);
  const problems = stuck.map((m) => `${m.name} is stuck (${m.state}): it needs a reinit`);
  for (const r of others.filter((m) => !isStuck(m))) {
    if (!isUp(r)) problems.push(`${r.name} is ${r.state}`);
    else if (leader.timeline !== null && r.timeline !== null && r.timeline < leader.timeline) {
      problems.push(`${r.name} is on timeline ${r.timeline}, the leader on ${leader.timeline}`);
    } else if (r.lagBytes === null) {
      problems.push(`${r.name}'s lag is unknown (not streaming)`);
    } else if (r.lagBytes > maxLagBytes) {
      problems.push(`${r.name} is ${formatBytes(r.lagBytes)} behind (bound ${formatBytes(maxLagBytes)})`);
    }
  }
  if (problems.length > 0)
    return { outcome: stuck.length > 0 ? 'fail' : 'degraded', detail: problems.join('; ') };
  const worst = Math.max(0, ...others.map((r) => r.lagBytes ?? 0));
  return {
    outcome: 'ok',
    detail: `${others.length} replicas streaming from ${leader.name}, at most ${formatBytes(worst)} behind`,
  };
}

/**
 * The leader: exactly one member holds the leader key and runs as primary.
 * No leader is a failure (no writes anywhere). Split brain, a member running
 * as primary without the key, is a failure too, and refused where it
 * matters: the database router routes only to the member whose Patroni
 * answers 200 on /primary, which it does only while holding the key, so
 * apps never write to the other; drills refuse to start; healing does not act.
 */
export function haLeaderVerdict(seen: HaClusterSeen): Verdict {
  const primaries = seen.members.filter((m) => m.reachable && m.role === 'primary');
  const rogue = primaries.filter((m) => m.name !== seen.leader);
  if (rogue.length > 0) {
    const who = primaries.map((m) => m.name).join(' and ');
    return {
      outcome: 'fail',
      detail: `split brain: ${who} run as primary; ${seen.leader ? `only ${seen.leader} holds the leader key and the router routes to it alone` : 'none holds the leader key: the router routes to none'}`,
    };
  }
  if (seen.leader === null) return { outcome: 'fail', detail: 'no leader: no member holds the leader key' };
  const leader = seen.members.find((m) => m.name === seen.leader);
  if (!leader?.reachable || leader.role !== 'primary') {
    return {
      outcome: 'fail',
      detail: `${seen.leader} holds the leader key but ${leader?.reachable ? `runs as ${leader.role} (${leader.state})` : 'does not answer'}`,
    };
  }
  return { outcome: 'ok', detail: `${leader.name} is the leader (timeline ${leader.timeline ?? '-'})` };
}

/** The verdict of one ha check. */
export function haVerdict(watch: 'members' | 'replication' | 'leader', seen: HaClusterSeen): Verdict {
  switch (watch) {
    case 'members':
      return haMembersVerdict(seen);
    case 'replication':
      return haReplicationVerdict(seen);
    case 'leader':
      return haLeaderVerdict(seen);
  }
}

/** Why the cluster is not fit for a drill: one leader, every member running and caught up. Empty: fit. */
export function drillProblems(seen: HaClusterSeen, maxLagBytes = defaultMaxLagBytes): string[] {
  return [haLeaderVerdict(seen), haMembersVerdict(seen), haReplicationVerdict(seen, maxLagBytes)]
    .filter((v) => v.outcome !== 'ok')
    .map((v) => v.detail);
}

/** The member runs as a replica on the leader's timeline, streaming within the bound. */
export function rejoined(seen: HaClusterSeen, member: string, maxLagBytes = defaultMaxLagBytes): boolean {
  const m = seen.members.find((x) => x.name === member);
  const leader = seen.members.find((x) => x.name === seen.leader);
  if (!m || !leader || m.name === leader.name || !isUp(m) || m.role !== 'replica') return false;
  if (m.timeline === null || m.timeline !== leader.timeline) return false;
  return m.lagBytes !== null && m.lagBytes <= maxLagBytes;
}

/** Members whose Patroni does not answer: starting them is always safe (a running one is left alone). */
export function membersToStart(seen: HaClusterSeen): string[] {
  return seen.members.filter((m) => !m.reachable).map((m) => m.name);
}

/**
 * Replicas to copy afresh from the leader: their Patroni answers but their
 * PostgreSQL is stuck (start failed, crashed). Only while one healthy leader
 * exists to copy from; never the leader, never during a split brain. A
 * replica that lags or is still rewinding is left to catch up.
 */
export function membersToReinit(seen: HaClusterSeen): { readonly members: string[]; readonly why: string } {
  const leader = haLeaderVerdict(seen);
  if (leader.outcome !== 'ok')
    return { members: [], why: `no reinit without a healthy leader: ${leader.detail}` };
  const stuck = seen.members.filter((m) => m.reachable && m.name !== seen.leader && isStuck(m));
  return stuck.length > 0
    ? {
        members: stuck.map((m) => m.name),
        why: stuck.map((m) => `${m.name} is ${m.state} on timeline ${m.timeline ?? '-'}`).join('; '),
      }
    : {
        members: [],
        why: 'no member is stuck (lag or a rejoin in progress is left to catch up): nothing reinitialised',
      };
}
