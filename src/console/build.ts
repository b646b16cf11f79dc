import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

/**
 * Building the console: `vite build` of web/ (its own Vite root and config)
 * into web/dist, then a Brotli and a gzip copy of each text file beside it,
 * which the API server sends to browsers that accept them (site.ts).
 * `steward up` builds when web/dist is missing or older than web/'s sources;
 * the test run builds once in its global setup.
 */
export const consoleRoot = fileURLToPath(new URL('../../web/', import.meta.url));
export const defaultConsoleDist = join(consoleRoot, 'dist');

const run = promisify(execFile);
const compressible = new Set([
  '.html',
  '.js',
  '.mjs',
  '.css',
  '.json',
  '.svg',
  '.webmanifest',
  '.txt',
  '.map',
]);

/**
 * Files that change the build: the Vite root's config, page and sources, and
 * what the console bundles from Steward's own sources (the typed client, the
 * roles and permissions, the event topics, the restore phases).
 */
const sourceEntries = [
  'index.html',
  'vite.config.ts',
  'tsconfig.json',
  'src',
  'public',
  '../src/api/client',
  '../src/core/policy.ts',
  '../src/events/topics.ts',
  '../src/backups/restore-phases.ts',
];

/** The newest modification time (ms) under `path`, links not followed; 0 when it does not exist. */
async function newest(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const name of await readdir(path)) latest = Math.max(latest, await newest(join(path, name)));
  return latest;
}

/**
 * Whether the console needs a build: web/ has sources (a checkout, not an
 * installed package without them) and web/dist/index.html is missing or
 * older than any of them.
 */
export async function consoleStale(root = consoleRoot): Promise<boolean> {
  if (!existsSync(join(root, 'vite.config.ts'))) return false;
  const built = await stat(join(root, 'dist', 'index.html')).catch(() => undefined);
  if (!built) return true;
  let sources = 0;
  for (const entry of sourceEntries) sources = Math.max(sources, await newest(join(root, entry)));
  return sources > built.mtimeMs;
}

/**
 * Runs `vite build --config web/vite.config.ts` (the repository's own Vite,
 * no network) and precompresses the result. Vite's output goes to the
 * returned text; a failed build throws with it.
 */
export async function buildConsole(root = consoleRoot): Promise<{ dist: string; files: number }> {
  const vite = fileURLToPath(new URL('../../node_modules/vite/bin/vite.js', import.meta.url));
  try {
    await run(
      process.execPath,
      [vite, 'build', '--config', join(root, 'vite.config.ts'), '--logLevel', 'warn'],
      {
        cwd: root,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, NODE_ENV: 'production' },
      },
    );
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `building the console failed (vite build in ${root}): ${(output.stderr || output.stdout || output.message).trim().slice(-4000)}`,
      { cause: error },
    );
  }
  const dist = join(root, 'dist');
  return { dist, files: await precompress(dist) };
}

/** Writes `<file>.br` and `<file>.gz` beside each text file of `dir` larger than 1 KiB; returns how many files it compressed. */
export async function precompress(dir: string): Promise<number> {
  let count = 0;
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await lstat(path);
    if (info.isDirectory()) count += await precompress(path);
    if (!info.isFile() || !compressible.has(extname(name).toLowerCase()) || info.size < 1024) continue;
    const body = await readFile(path);
    const [br, gz] = await Promise.all([
      promisify(brotliCompress)(body, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      }),
      promisify(gzip)(body, { level: 9 }),
    ]);
    await writeFile(`${path}.br`, br);
    await writeFile(`${path}.gz`, gz);
    count += 1;
  }
  return count;
}
