import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The sample app's directory in this repository. */
export const ledgerDir = join(import.meta.dirname, '..', '..', 'examples', 'ledger');

/** A directory packed as a release upload (.tar.gz without node_modules). */
export function packRelease(dir: string): Buffer {
  return execFileSync('tar', ['-czf', '-', '--exclude=node_modules', '-C', dir, '.'], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** A copy of the sample app with its steward.yaml changed; the caller removes it. */
export async function ledgerVariant(change: (yaml: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-variant-'));
  await cp(ledgerDir, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const file = join(dir, 'steward.yaml');
  await writeFile(file, change(await readFile(file, 'utf8')));
  return dir;
}
