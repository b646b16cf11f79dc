import { buildPassthrough } from '../core/env.ts';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { InputError, showValue } from '../core/errors.ts';

/**
 * The files of a release on disk: its content checksum, its permissions,
 * its build. Everything here works on one release directory.
 */
export interface TreeEntry {
  /** Relative, with "/" separators. */
  readonly path: string;
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  readonly mode: number;
  readonly size: number;
}

/** Every entry below `root`, depth first, in byte order of the path; never follows a link. */
export async function walkTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const visit = async (relative: string): Promise<void> => {
    const names = (await readdir(join(root, relative))).sort(byteOrder);
    for (const name of names) {
      const path = relative ? `${relative}/${name}` : name;
      const stat = await lstat(join(root, path));
      const kind = stat.isFile()
        ? 'file'
        : stat.isDirectory()
          ? 'directory'
          : stat.isSymbolicLink()
            ? 'symlink'
            : 'other';
      out.push({ path, kind, mode: stat.mode & 0o7777, size: stat.size });
      if (kind === 'directory') await visit(path);
    }
  };
  await visit('');
  return out.sort((a, b) => byteOrder(a.path, b.path));
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The mode a release file gets: readable by all, executable where it was. */
export function releaseMode(kind: 'file' | 'directory', mode: number): number {
  if (kind === 'directory') return 0o755;
  return mode & 0o111 ? 0o755 : 0o644;
}

/**
 * The content checksum: sha256 over the sorted lines "path NUL kind+mode NUL
 * sha256" of every entry. Tar metadata (mtimes, owners, entry order) does
 * not change it; content, names and executable bits do.
 */
export async function contentChecksum(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const entry of await walkTree(root)) {
    let digest = '';
    let mode = '';
    if (entry.kind === 'file') {
      digest = await fileSha256(join(root, entry.path));
      mode = releaseMode('file', entry.mode).toString(8);
    } else if (entry.kind === 'symlink') {
      digest = createHash('sha256')
        .update(await readlink(join(root, entry.path)))
        .digest('hex');
      mode = 'link';
    } else if (entry.kind === 'directory') {
      mode = 'dir';
    } else continue;
    hash.update(`${entry.path}\0${mode}\0${digest}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Refuses symlinks whose real target leaves the release or does not exist:
 * a link through another link and ".." can escape where each alone does not.
 */
export async function checkSymlinks(root: string): Promise<void> {
  const realRoot = await realpath(root);
  for (const entry of await walkTree(root)) {
    if (entry.kind === 'other') {
      throw new InputError(
        `the release archive is refused: ${showValue(entry.path)} is not a file, directory or symlink`,
        {
          field: 'body',
        },
      );
    }
    if (entry.kind !== 'symlink') continue;
    let resolved: string;
    try {
      resolved = await realpath(join(root, entry.path));
    } catch {
      throw new InputError(
        `the release archive is refused: symlink ${showValue(entry.path)} points to nothing inside the release`,
        { field: 'body' },
      );
    }
    if (resolved !== realRoot && !resolved.startsWith(realRoot + sep)) {
      throw new InputError(
        `the release archive is refused: symlink ${showValue(entry.path)} points outside the release`,
        { field: 'body' },
      );
    }
  }
}

/** Sets dirs to 0755 and files to 0644 (0755 when executable); returns the total file size. */
export async function sealTree(root: string): Promise<number> {
  let size = 0;
  for (const entry of await walkTree(root)) {
    if (entry.kind === 'file' || entry.kind === 'directory') {
      const mode = releaseMode(entry.kind, entry.mode);
      if (mode !== entry.mode) await chmod(join(root, entry.path), mode);
      if (entry.kind === 'file') size += entry.size;
    }
  }
  await chmod(root, 0o755);
  return size;
}

export interface BuildOptions {
  readonly cwd: string;
  readonly timeoutMs: number;
  /** How many lines of output a failure shows. */
  readonly tailLines?: number;
  /**
   * Run in the stage sandbox: the bubblewrap argv (ending in `--`) and the
   * unprivileged uid the build runs as. Without it the build runs as Steward.
   */
  readonly sandbox?: {
    readonly argv: readonly string[];
    /** What the child reads on fd 3 (the sandbox's options). */
    readonly fd3: string | undefined;
    readonly uid: number;
    /** Where package managers keep their cache, inside the sandbox. */
    readonly cacheDir: string;
  };
}

/**
 * The PATH a build (and any command of a release) sees: first the directory
 * of the Node binary running Steward, so "node" and "npm" use the same Node.
 */
export function releaseCommandPath(): string {
  return [
    dirname(process.execPath),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ].join(':');
}

const maxKeptOutput = 64 * 1024;

/** Runs the definition's build command; throws an InputError with the output's last lines on failure. */
export function runBuild(command: string, options: BuildOptions): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const sandbox = options.sandbox;
    const argv = [...(sandbox?.argv ?? []), '/bin/sh', '-c', command];
    const child = spawn(argv[0] ?? '/bin/sh', argv.slice(1), {
      cwd: options.cwd,
      // Sandboxed, HOME is the private /tmp: nothing of Steward's own home (npm cache, settings) is in reach.
      env: {
        ...buildPassthrough(),
        PATH: releaseCommandPath(),
        HOME: sandbox ? '/tmp' : homedir(),
        LANG: 'C.UTF-8',
        ...(sandbox ? { npm_config_cache: sandbox.cacheDir } : {}),
      },
      stdio: sandbox?.fd3 !== undefined ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout kills what the shell started too.
      detached: true,
      ...(sandbox ? { uid: sandbox.uid, gid: sandbox.uid } : {}),
    });
    let output = Buffer.alloc(0);
    const keep = (chunk: Buffer): void => {
      output = Buffer.concat([output, chunk]);
      if (output.length > maxKeptOutput) output = output.subarray(output.length - maxKeptOutput);
    };
    const fd3 = child.stdio[3];
    if (sandbox?.fd3 !== undefined && fd3 && 'end' in fd3) {
      fd3.on('error', () => undefined);
      fd3.end(sandbox.fd3);
    }
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(
        new InputError(`build command could not start: ${error.message}`, {
          field: 'build.command',
          cause: error,
        }),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && !timedOut) return resolve();
      const lines = output.toString('utf8').trimEnd().split('\n');
      const tail = lines.slice(-(options.tailLines ?? 20)).join('\n');
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const why = timedOut
        ? `did not finish within ${options.timeoutMs / 1000} s and was stopped`
        : `failed (${code === null ? `signal ${signal ?? 'unknown'}` : `exit ${code}`}) after ${seconds} s`;
      reject(
        new InputError(
          `build command ${showValue(command)} ${why}; nothing was recorded. Last lines of its output:\n${tail || '(no output)'}`,
          { field: 'build.command' },
        ),
      );
    });
  });
}
