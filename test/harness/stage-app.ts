import { readdir, readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { ledgerDir, packRelease } from './ledger.ts';
import type { TestSteward } from './steward.ts';

/** Polls `probe` until it returns a value (not undefined), or fails naming `what`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A process and everything below it (a sandboxed process runs under bwrap). */
export async function withDescendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The fields after the command's closing parenthesis: state, then the parent's pid.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(parents.get(all[i] as number) ?? []));
  return all;
}

/** Uploads the sample app as `version` and deploys it to a ready stage; resolves when it is active. */
export async function deployLedger(
  t: TestSteward,
  tenant: string,
  stage: string,
  version = '1.0.0',
): Promise<void> {
  const upload = await t.api.inject({
    method: 'POST',
    url: `/api/v1/releases?version=${version}`,
    headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
    payload: packRelease(ledgerDir),
  });
  expect(upload.statusCode, upload.body).toBe(201);
  const started = await t.request('POST', `/api/v1/tenants/${tenant}/stages/${stage}/deployments`, {
    version,
  });
  expect(started.status, started.text).toBe(202);
  await until(
    'the deployment',
    async () => {
      const res = await t.request('GET', `/api/v1/deployments/${started.body.id}`);
      if (res.body.status === 'failed') throw new Error(res.text);
      return res.body.status === 'active' ? true : undefined;
    },
    90_000,
  );
}
