import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The suite must pass in a clean clone in any folder on a fresh machine. A
 * tracked file that names the absolute path of a checkout (a test spawning
 * `<checkout>/node_modules/.bin/node`, README output showing
 * `/home/me/steward/.steward`) passes only where that checkout exists, which
 * CI on the machine it was written on cannot notice.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && file !== 'package-lock.json');
}

function read(file: string): string | undefined {
  try {
    const text = readFileSync(root + file, 'utf8');
    return text.includes('\0') ? undefined : text;
  } catch {
    return undefined; // deleted in the work tree, or not a regular file
  }
}

/**
 * An absolute path that ends in a folder only a checkout has: the project's
 * own node_modules, its `.steward` data dir, or its source and test trees.
 * Paths of the machine (`/usr/lib/postgresql/15/bin`, `/proc/self`) are fine, and so is
 * the path of a URL (`https://host/.steward/…`: after `:` or `/`).
 */
export const checkoutPathPattern =
  /(?<![\w.~$}:/-])\/(?:[\w.-]+\/)+(?:node_modules\/\.bin|\.steward\/|src\/[\w-]+\/[\w-]+\.ts|test\/[\w-]+\/[\w-]+\.ts)/g;

export function checkoutPaths(text: string): string[] {
  return [...text.matchAll(checkoutPathPattern)]
    .map((m) => m[0])
    .filter((path) => !path.startsWith('/tmp/') && !path.startsWith('/var/'));
}

describe('no tracked file names where a checkout lives', () => {
  // Built from parts, so that this file does not name the paths it looks for.
  const abs = (...parts: string[]): string => '/' + parts.join('/');

  it('finds checkout paths in text (the check can fail)', () => {
    const bin = abs('work', 'main', 'node_modules', '.bin');
    expect(checkoutPaths(`const node = '${bin}/node';`)).toEqual([bin]);
    const data = abs('home', 'me', 'steward', '.steward') + '/';
    expect(checkoutPaths(`initialising the PostgreSQL cluster in ${data}pg`)).toEqual([data]);
    expect(checkoutPaths(`import x from "${abs('srv', 'steward', 'src', 'core', 'names.ts')}"`)).toHaveLength(
      1,
    );
    expect(checkoutPaths('binaries at /usr/lib/postgresql/15/bin; ./.steward/pg; $HOME/.steward/x')).toEqual(
      [],
    );
    expect(checkoutPaths('like https://dev.acme.example/.steward/auth/jwks.json')).toEqual([]);
  });

  it('no tracked file names this checkout or any checkout by absolute path', () => {
    const offenders: string[] = [];
    for (const file of trackedFiles()) {
      const text = read(file);
      if (text === undefined) continue;
      if (text.includes(root)) offenders.push(`${file}: names this checkout (${root})`);
      for (const path of checkoutPaths(text)) offenders.push(`${file}: ${path}`);
    }
    expect(offenders, 'derive paths from import.meta.url or process.execPath instead').toEqual([]);
  });
});
