import { describe, expect, it } from 'vitest';
import {
  chainHash,
  chainStart,
  checkEnd,
  eventBody,
  genesisHash,
  hashEvent,
  verifyChain,
  type AuditContent,
  type ChainedEvent,
  type ChainProblemKind,
  type ChainRules,
} from '../../src/audit/chain.ts';
import {
  checkpointDigest,
  checkpointLine,
  makeCheckpoint,
  parseCheckpoint,
  readCheckpoints,
  type Checkpoint,
} from '../../src/audit/checkpoints.ts';
import { AuditKeys, macInput } from '../../src/audit/integrity.ts';
import { describeVerifyReport } from '../../src/audit/report.ts';

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

describe('verifyChain with database-computed hashes and MACs', () => {
  const keys = new AuditKeys({
    active: { id: 'k1', key: Buffer.alloc(32, 1) },
    byId: (id) => (id === 'k1' ? { id, key: Buffer.alloc(32, 1) } : undefined),
  });
  const rules = (extra: Partial<ChainRules> = {}): ChainRules => ({
    legacySeq: 2n,
    checkMac: (keyId, input, mac) => keys.checkMac(keyId, input, mac),
    macInput,
    ...extra,
  });
  /** Events 1–2 legacy, 3–6 as Steward and the trigger write them now. */
  function mixed(): ChainedEvent[] {
    const events = chain(2);
    let prevHash = at(events, 1).hash;
    for (let n = 3; n <= 6; n += 1) {
      const c = content(n);
      const seq = String(n);
      const body = eventBody(c);
      const { keyId, mac } = keys.mac(macInput(seq, prevHash, body));
      const hash = chainHash(prevHash, seq, body, keyId, mac);
      events.push({ ...c, seq, prevHash, hash, body, macKey: keyId, mac });
      prevHash = hash;
    }
    return events;
  }

  it('verifies legacy and new events, counting the legacy ones', () => {
    const result = verifyChain(mixed(), chainStart, undefined, rules());
    expect(result.problem).toBeUndefined();
    expect(result.forged).toBeUndefined();
    expect(result.cursor).toMatchObject({ checked: 6, legacy: 2, lastSeq: '6' });
  });

  it('flags an event whose MAC fails, or names a key the keyring lacks, and goes on', () => {
    const events = mixed().map((e) => {
      if (e.seq === '4') {
        const mac = 'a'.repeat(64);
        return { ...e, mac, hash: chainHash(e.prevHash, e.seq, e.body ?? '', e.macKey ?? '', mac) };
      }
      return e;
    });
    // Relink what follows the forged event, as the trigger would have.
    for (let i = 4; i < events.length; i += 1) {
      const e = at(events, i);
      const prevHash = at(events, i - 1).hash;
      const { keyId, mac } = keys.mac(macInput(e.seq, prevHash, e.body ?? ''));
      events[i] = {
        ...e,
        prevHash,
        mac,
        macKey: keyId,
        hash: chainHash(prevHash, e.seq, e.body ?? '', keyId, mac),
      };
    }
    const result = verifyChain(events, chainStart, undefined, rules());
    expect(result.problem).toBeUndefined();
    expect(result.forged?.map((p) => [p.kind, p.seq])).toEqual([['forged', '4']]);
    expect(result.cursor.checked).toBe(6);
    const unknown = verifyChain(events, chainStart, undefined, rules({ checkMac: () => 'unknown-key' }));
    expect(unknown.forged?.[0]?.message).toMatch(/does not hold/);
  });

  it('takes events at or before the checkpoint as held by it when their MAC key is gone, never one after it', () => {
    const events = mixed();
    const checkpoint = { seq: '5', hash: at(events, 4).hash };
    const gone = verifyChain(
      events,
      chainStart,
      undefined,
      rules({ checkpoint, checkMac: () => 'unknown-key' }),
    );
    expect(gone.problem).toBeUndefined();
    expect(gone.forged?.map((p) => p.seq)).toEqual(['6']);
    // A MAC that is wrong under a key still held is flagged wherever it is.
    const bad = verifyChain(events, chainStart, undefined, rules({ checkpoint, checkMac: () => 'bad' }));
    expect(bad.forged?.map((p) => p.seq)).toEqual(['3', '4', '5', '6']);
  });

  it('treats an event past the legacy mark without a MAC as written around the trigger', () => {
    const events = mixed();
    const third = at(events, 2);
    const bare = { ...third, body: null, macKey: null, mac: null, hash: hashEvent(third.prevHash, third) };
    const result = verifyChain([...events.slice(0, 2), bare], chainStart, undefined, rules());
    expect(result.problem).toMatchObject({ kind: 'changed', seq: '3' });
  });

  it('finds fields that no longer match the body the database hashed', () => {
    const events = mixed().map((e) => (e.seq === '5' ? { ...e, actor: 'someone' } : e));
    expect(verifyChain(events, chainStart, undefined, rules()).problem).toMatchObject({
      kind: 'changed',
      seq: '5',
    });
  });

  it('holds the log to a checkpoint: its event must carry its hash, and the log must reach it', () => {
    const events = mixed();
    const checkpoint = { seq: '5', hash: at(events, 4).hash };
    const held = verifyChain(events, chainStart, undefined, rules({ checkpoint }));
    expect(held.cursor.anchored).toBe(true);
    expect(checkEnd(held.cursor, checkpoint, { seq: '6', hash: at(events, 5).hash })).toBeUndefined();

    const other = verifyChain(
      events,
      chainStart,
      undefined,
      rules({ checkpoint: { seq: '5', hash: 'b'.repeat(64) } }),
    );
    expect(other.problem).toMatchObject({ kind: 'rewritten', seq: '5' });

    const short = verifyChain(events.slice(0, 4), chainStart, undefined, rules({ checkpoint }));
    expect(short.problem).toBeUndefined();
    expect(checkEnd(short.cursor, checkpoint, undefined)).toMatchObject({ kind: 'truncated', seq: '5' });
    // No checkpoint, but the head the trigger moved is further on.
    expect(checkEnd(short.cursor, undefined, { seq: '6', hash: at(events, 5).hash })).toMatchObject({
      kind: 'truncated',
      seq: '6',
    });
  });
});

describe('checkpoints', () => {
  const master = { id: 'k1', key: Buffer.alloc(32, 7) };
  const keys = new AuditKeys({ active: master, byId: (id) => (id === 'k1' ? master : undefined) });
  const stored = (c: Checkpoint, where = 'file') => ({ ok: true as const, checkpoint: c, where });

  it('signs with Ed25519 and names the previous checkpoint; a changed field fails the signature', () => {
    const first = makeCheckpoint(
      keys,
      { seq: '3', hash: 'a'.repeat(64), legacySeq: '0' },
      new Date(0),
      undefined,
    );
    const second = makeCheckpoint(
      keys,
      { seq: '5', hash: 'b'.repeat(64), legacySeq: '0' },
      new Date(1),
      first,
    );
    expect(first.previous).toBe(genesisHash);
    expect(second.previous).toBe(checkpointDigest(first));
    expect(parseCheckpoint(checkpointLine(second), 'x')).toEqual({
      ok: true,
      checkpoint: second,
      where: 'x',
    });
    const good = readCheckpoints(keys, [{ name: 'local', stored: [stored(first), stored(second)] }]);
    expect(good.problems).toEqual([]);
    expect(good.newest).toEqual(second);
    expect(good.stores).toEqual(['local']);

    const edited = { ...second, seq: '4' };
    const bad = readCheckpoints(keys, [{ name: 'local', stored: [stored(first), stored(edited)] }]);
    expect(bad.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/does not carry Steward's signature/),
    ]);
    expect(bad.newest?.seq).toBe('3');
    // Another master key's signature is not Steward's.
    const stranger = new AuditKeys({
      active: { id: 'k1', key: Buffer.alloc(32, 8) },
      byId: () => ({ id: 'k1', key: Buffer.alloc(32, 8) }),
    });
    expect(readCheckpoints(stranger, [{ name: 'local', stored: [stored(second)] }]).problems).toHaveLength(1);
  });

  it('holds an older checkpoint signed with a key since dropped by the digest the next one names', () => {
    const old = { id: 'k0', key: Buffer.alloc(32, 6) };
    const both = new AuditKeys({
      active: old,
      byId: (id) => (id === 'k0' ? old : id === 'k1' ? master : undefined),
    });
    const first = makeCheckpoint(
      both,
      { seq: '3', hash: 'a'.repeat(64), legacySeq: '0' },
      new Date(0),
      undefined,
    );
    const second = makeCheckpoint(
      keys,
      { seq: '5', hash: 'b'.repeat(64), legacySeq: '0' },
      new Date(1),
      first,
    );
    expect(first.keyId).toBe('k0');
    const reading = readCheckpoints(keys, [{ name: 'local', stored: [stored(first), stored(second)] }]);
    expect(reading.problems).toEqual([]);
    expect(reading.newest).toEqual(second);
    // Alone, it is not Steward's word: the newest checkpoint must carry a signature Steward can check.
    const alone = readCheckpoints(keys, [{ name: 'local', stored: [stored(first)] }]);
    expect(alone.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/which the keyring does not hold/),
    ]);
    expect(alone.newest).toBeUndefined();
  });

  it('refuses a stored checkpoint that does not parse, naming the field and the value', () => {
    const c = makeCheckpoint(
      keys,
      { seq: '3', hash: 'a'.repeat(64), legacySeq: '0' },
      new Date(0),
      undefined,
    );
    expect(parseCheckpoint(JSON.stringify({ ...c, seq: '-1' }), 'f line 2')).toEqual({
      ok: false,
      where: 'f line 2',
      error: 'f line 2: field seq is "-1", not a sequence number',
    });
    expect(parseCheckpoint('{', 'f line 3')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/not JSON/),
    });
  });
});

describe('steward audit verify, as text', () => {
  it('says intact, or lists each problem, and names legacy events and the checkpoint', () => {
    const base = {
      checked: 5,
      lastSeq: '5',
      legacy: 2,
      checkpoint: {
        seq: '5',
        hash: 'a'.repeat(64),
        at: '2026-01-01T00:00:00.000Z',
        stores: ['local', 'repo1'],
      },
      warnings: [],
    };
    expect(describeVerifyReport({ ...base, ok: true, problem: null, problems: [] })).toBe(
      'audit log intact: 5 events verified\n' +
        '2 events from before the database computed hashes: chained, but legacy, unauthenticated (no MAC)\n' +
        'newest signed checkpoint: event 5 at 2026-01-01T00:00:00.000Z (local, repo1)\n',
    );
    const problem = {
      seq: '4',
      kind: 'forged' as const,
      message: 'audit event 4 was not written by Steward',
    };
    expect(describeVerifyReport({ ...base, ok: false, problem, problems: [problem] })).toMatch(
      /^AUDIT LOG TAMPERED: 1 problem\n {2}forged at event 4: audit event 4 was not written by Steward\n/,
    );
  });
});
