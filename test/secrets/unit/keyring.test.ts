import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMasterKey } from '../../../src/secrets/envelope.ts';
import {
  fileKeyring,
  finishedRotation,
  keyOf,
  stagedRotation,
  withoutRetired,
  type Keyring,
} from '../../../src/secrets/keyring.ts';
import { purgePlan } from '../../../src/secrets/retired.ts';

const day = 86_400_000;
const k1 = newMasterKey('k1');
const k2 = newMasterKey('k2');
const k3 = newMasterKey('k3');
const start: Keyring = { active: k1, keys: new Map([['k1', k1]]), retired: new Map() };

describe('keyring transitions', () => {
  it('rotation stages the new key beside the old one, then retires the old one', () => {
    const staged = stagedRotation(start, k2);
    expect(staged.active.id).toBe('k2');
    expect([...staged.keys.keys()]).toEqual(['k1', 'k2']);
    const at = new Date('2026-12-01T00:00:00Z');
    const finished = finishedRotation(staged, at);
    expect([...finished.keys.keys()]).toEqual(['k2']);
    expect([...finished.retired]).toEqual([['k1', { key: k1, retiredAt: at }]]);
    expect(keyOf(finished, 'k1')).toBe(k1);
  });

  it('a rotation resumed after a crash retires every key but the new active one, keeping earlier retirement times', () => {
    const first = finishedRotation(stagedRotation(start, k2), new Date(0));
    const crashed = stagedRotation(stagedRotation(first, k3), newMasterKey('k4'));
    const finished = finishedRotation(crashed, new Date(day));
    expect([...finished.keys.keys()]).toEqual(['k4']);
    expect([...finished.retired.keys()].sort()).toEqual(['k1', 'k2', 'k3']);
    expect(finished.retired.get('k1')?.retiredAt).toEqual(new Date(0));
  });

  it('purging drops only the retired keys named', () => {
    const finished = finishedRotation(stagedRotation(start, k2), new Date(0));
    expect(withoutRetired(finished, ['k1']).retired.size).toBe(0);
    expect(keyOf(withoutRetired(finished, ['k1']), 'k1')).toBeUndefined();
  });
});

describe('purgePlan', () => {
  const retired = new Map([
    ['old', { retiredAt: new Date(0) }],
    ['young', { retiredAt: new Date(30 * day) }],
  ]);
  it('purges keys retired longer ago than the retention, keeps the others with their date', () => {
    const plan = purgePlan(retired, 37, new Date(40 * day));
    expect(plan.purge.map((k) => k.id)).toEqual(['old']);
    expect(plan.keep).toEqual([
      { id: 'young', retiredAt: new Date(30 * day), purgeableAt: new Date(67 * day) },
    ]);
  });
  it('a key is purgeable exactly when the retention has passed', () =>
    expect(purgePlan(retired, 37, new Date(37 * day)).purge.map((k) => k.id)).toEqual(['old']));
});

describe('the keyring file', () => {
  let dir: string;
  beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'steward-keyring-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps retired keys sealed under the active key, and reads them back', async () => {
    const store = fileKeyring(join(dir, 'master.key'));
    const at = new Date('2026-12-01T00:00:00Z');
    await store.save(finishedRotation(stagedRotation(start, k2), at));
    const text = await readFile(join(dir, 'master.key'), 'utf8');
    expect(text).not.toContain(k1.key.toString('base64'));
    const loaded = await store.load();
    expect(loaded.active.id).toBe('k2');
    expect(loaded.retired.get('k1')).toEqual({ key: k1, retiredAt: at });
  });

  it('refuses a retired key that does not open with the active key, naming it', async () => {
    const path = join(dir, 'master.key');
    const file = JSON.parse(await readFile(path, 'utf8')) as {
      retired: Record<string, { retiredAt: string; sealed: string }>;
    };
    const sealed = Buffer.from(file.retired.k1?.sealed ?? '', 'base64');
    sealed[sealed.length - 1] = (sealed.at(-1) ?? 0) ^ 1;
    await writeFile(
      path,
      JSON.stringify({ ...file, retired: { k1: { ...file.retired.k1, sealed: sealed.toString('base64') } } }),
    );
    await expect(fileKeyring(path).load()).rejects.toThrow(
      `${path}: retired key k1 does not open with the active key k2`,
    );
  });
});
