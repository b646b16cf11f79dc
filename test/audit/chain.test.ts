import { describe, expect, it } from 'vitest';
import {
  chainStart,
  genesisHash,
  hashEvent,
  verifyChain,
  type AuditContent,
  type ChainedEvent,
  type ChainProblemKind,
} from '../../src/audit/chain.ts';

function content(n: number): AuditContent {
  return {
    at: new Date(Date.UTC(2025, 0, 1, 12, 0, n)),
    actor: 'owner',
    action: n % 2 === 0 ? 'tenant.create' : 'stage.credentials.read',
    target: `tenant/t${n}`,
    tenant: `t${n}`,
    outcome: 'success',
    address: '127.0.0.1',
    details: { n, stages: ['dev', 'prod'] },
  };
}

/** A well-formed chain of `count` events with seqs 1..count. */
function chain(count: number): ChainedEvent[] {
  const events: ChainedEvent[] = [];
  let prevHash = genesisHash;
  for (let n = 1; n <= count; n += 1) {
    const c = content(n);
    const hash = hashEvent(prevHash, c);
    events.push({ ...c, seq: String(n), prevHash, hash });
    prevHash = hash;
  }
  return events;
}

/** An event an attacker computes properly, linking to `prevHash`. */
function forged(seq: string, prevHash: string): ChainedEvent {
  const c: AuditContent = { ...content(99), action: 'tenant.delete', actor: 'nobody' };
  return { ...c, seq, prevHash, hash: hashEvent(prevHash, c) };
}

function at(events: ChainedEvent[], index: number): ChainedEvent {
  const event = events[index];
  if (!event) throw new Error(`no event at ${index}`);
  return event;
}

interface Case {
  readonly name: string;
  readonly tamper: (events: ChainedEvent[]) => ChainedEvent[];
  readonly expected: { seq: string; kind: ChainProblemKind } | null;
}

const cases: Case[] = [
  { name: 'intact', tamper: (e) => e, expected: null },
  {
    name: 'changed details',
    tamper: (e) => e.map((x) => (x.seq === '3' ? { ...x, details: { n: 3, stages: ['dev'] } } : x)),
    expected: { seq: '3', kind: 'changed' },
  },
  {
    name: 'changed actor',
    tamper: (e) => e.map((x) => (x.seq === '2' ? { ...x, actor: 'someone-else' } : x)),
    expected: { seq: '2', kind: 'changed' },
  },
  {
    name: 'changed timestamp by one millisecond',
    tamper: (e) => e.map((x) => (x.seq === '4' ? { ...x, at: new Date(x.at.getTime() + 1) } : x)),
    expected: { seq: '4', kind: 'changed' },
  },
  {
    name: 'changed outcome',
    tamper: (e) => e.map((x) => (x.seq === '1' ? { ...x, outcome: 'failure' as const } : x)),
    expected: { seq: '1', kind: 'changed' },
  },
  {
    name: 'changed hash',
    tamper: (e) => e.map((x) => (x.seq === '3' ? { ...x, hash: 'f'.repeat(64) } : x)),
    expected: { seq: '3', kind: 'changed' },
  },
  {
    name: 'changed prev_hash',
    tamper: (e) => e.map((x) => (x.seq === '3' ? { ...x, prevHash: genesisHash } : x)),
    expected: { seq: '3', kind: 'changed' },
  },
  {
    // Content and hash rewritten together: the event is self-consistent, but
    // its successor still names the old hash, so the chain breaks right after it.
    name: 'changed content with a recomputed hash',
    tamper: (e) =>
      e.map((x) => {
        if (x.seq !== '3') return x;
        const changed = { ...x, details: { n: 3, stages: [] } };
        return { ...changed, hash: hashEvent(x.prevHash, changed) };
      }),
    expected: { seq: '4', kind: 'deleted' },
  },
  {
    name: 'deleted middle',
    tamper: (e) => e.filter((x) => x.seq !== '3'),
    expected: { seq: '4', kind: 'deleted' },
  },
  {
    name: 'deleted first',
    tamper: (e) => e.slice(1),
    expected: { seq: '2', kind: 'deleted' },
  },
  {
    name: 'deleted two in the middle',
    tamper: (e) => e.filter((x) => x.seq !== '2' && x.seq !== '3'),
    expected: { seq: '4', kind: 'deleted' },
  },
  {
    name: 'inserted forged event linking to its predecessor',
    tamper: (e) => [...e.slice(0, 2), forged('x', at(e, 1).hash), ...e.slice(2)],
    expected: { seq: 'x', kind: 'inserted' },
  },
  {
    name: 'inserted forged event before the first',
    tamper: (e) => [forged('0', genesisHash), ...e],
    expected: { seq: '0', kind: 'inserted' },
  },
  {
    name: 'inserted forged event with a made-up link',
    tamper: (e) => [...e.slice(0, 2), forged('x', 'a'.repeat(64)), ...e.slice(2)],
    expected: { seq: 'x', kind: 'inserted' },
  },
  {
    name: 'reordered (two events swapped)',
    tamper: (e) => [at(e, 0), at(e, 2), at(e, 1), ...e.slice(3)],
    expected: { seq: '3', kind: 'inserted' },
  },
];

describe('verifyChain', () => {
  it.each(cases)('$name', ({ tamper, expected }) => {
    const events = tamper(chain(6));
    const result = verifyChain(events);
    if (expected === null) {
      expect(result.problem).toBeUndefined();
      expect(result.cursor.checked).toBe(6);
      expect(result.cursor.lastSeq).toBe('6');
      expect(result.cursor.lastHash).toBe(at(events, 5).hash);
    } else {
      expect(result.problem).toMatchObject(expected);
      expect(result.problem?.message).toContain(expected.seq);
    }
  });

  it('finds the same problem when the log is checked in batches of any size', () => {
    const tampered: Case[] = cases.filter((c) => c.expected !== null);
    for (const { name, tamper, expected } of tampered) {
      const events = tamper(chain(9));
      const whole = verifyChain(events);
      expect(whole.problem, name).toMatchObject(expected ?? {});
      for (const size of [1, 2, 3, 4]) {
        let cursor = chainStart;
        let problem;
        for (let i = 0; i < events.length && !problem; i += size) {
          const result = verifyChain(events.slice(i, i + size), cursor, events[i + size]);
          cursor = result.cursor;
          problem = result.problem;
        }
        expect(problem, `${name}, batches of ${size}`).toEqual(whole.problem);
      }
    }
  });

  it('counts the events checked before a problem', () => {
    const events = chain(6).filter((x) => x.seq !== '5');
    const result = verifyChain(events);
    expect(result.problem).toMatchObject({ seq: '6', kind: 'deleted' });
    expect(result.cursor.checked).toBe(4);
    expect(result.cursor.lastSeq).toBe('4');
  });

  it('an empty log is intact', () => {
    expect(verifyChain([])).toEqual({ cursor: chainStart });
  });

  it('the hash covers every field of the content and the previous hash', () => {
    const base = content(1);
    const hash = hashEvent(genesisHash, base);
    const variants: AuditContent[] = [
      { ...base, at: new Date(base.at.getTime() + 1) },
      { ...base, actor: 'x' },
      { ...base, action: 'x' },
      { ...base, target: 'x' },
      { ...base, tenant: null },
      { ...base, outcome: 'denied' },
      { ...base, address: null },
      { ...base, details: {} },
    ];
    for (const variant of variants) expect(hashEvent(genesisHash, variant)).not.toBe(hash);
    expect(hashEvent('1'.repeat(64), base)).not.toBe(hash);
    // Key order in details does not matter: the JSON is canonical.
    expect(hashEvent(genesisHash, { ...base, details: { stages: ['dev', 'prod'], n: 1 } })).toBe(hash);
  });
});
