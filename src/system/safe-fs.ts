import { randomBytes } from 'node:crypto';
import { constants, existsSync, type Stats } from 'node:fs';
import {
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rmdir,
  symlink,
  unlink,
} from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, posix, resolve, sep } from 'node:path';

/**
 * File operations on trees a tenant controls (a stage's files directory, an
 * export's files being unpacked) while Steward runs as root.
 *
 * A path below such a tree is never resolved as a whole: between a check
 * and the use of a path, the tenant's processes may swap a directory for a
 * symlink (to `/usr`, to Steward's master key, to another tenant), and root
 * would follow it. Node has no openat(2), so each step goes through
 * `/proc/self/fd/<fd>/<name>`: the kernel resolves it relative to a directory
 * already open, to exactly one entry of it. Directories and files are opened
 * with O_NOFOLLOW and checked (dev, ino) against what lstat saw; owners and
 * modes change through the open descriptor (fchown, fchmod) or with lchown,
 * never by a path that follows a link. Chosen over running a child as the
 * stage's uid because the export writer, the quota pass and restores all run
 * in this process and read what they walk (sizes, content); the kernel's
 * O_NOFOLLOW gives the same guarantee with no second process per operation.
 *
 * The root itself is given by Steward (a stage's files dir in a directory
 * only root writes), so it is opened by its path, still with O_NOFOLLOW.
 */
const directoryFlags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// O_NONBLOCK: a FIFO swapped in between lstat and open must not hang the walk.
const fileFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Deeper trees are refused: each level holds one open directory. */
export const maxTreeDepth = 256;

export class TreeError extends Error {}

/** The path of `name` inside the open directory `dir`, resolved by the kernel from the descriptor. */
function at(dir: FileHandle, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new TreeError(`${JSON.stringify(name)} is not one name of a directory entry`);
  }
  return `/proc/self/fd/${dir.fd}/${name}`;
}

function gone(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  // ELOOP: a symlink where a directory or file was; ENOTDIR/ENOENT/ENXIO: replaced or removed.
  return code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENXIO';
}

/** Opens what `path` names if it is still the inode `expected`; undefined when it changed meanwhile. */
async function openSame(path: string, flags: number, expected: Stats): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, flags);
  } catch (error) {
    if (gone(error)) return undefined;
    throw error;
  }
  const now = await handle.stat();
  if (now.dev === expected.dev && now.ino === expected.ino) return handle;
  await handle.close();
  return undefined;
}

/** A directory Steward names (a files dir, a staging dir), opened without following a link. */
async function openDirectory(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, directoryFlags);
  } catch (error) {
    if (gone(error)) return undefined;
    throw error;
  }
}

export type TreeEntryKind = 'directory' | 'file' | 'symlink' | 'other';

export interface SafeTreeEntry {
  /** Relative to the root, "/" separated; "" for the root itself. */
  readonly path: string;
  readonly kind: TreeEntryKind;
  /** fstat of the open entry for directories (and files when opened), else lstat. */
  readonly stats: Stats;
  /** The open directory it is in (undefined for the root): reach it as `at(parent, name)`. */
  readonly parent: FileHandle | undefined;
  readonly name: string;
  /** Directories always, files when asked for: open, never through a link. Closed by the walk. */
  readonly handle: FileHandle | undefined;
}

export interface WalkOptions {
  /** Open regular files too (to read them); otherwise they come with lstat only. */
  readonly openFiles?: boolean;
  /** Directories after their entries (for removal) rather than before. */
  readonly directoriesLast?: boolean;
}

function kindOf(stats: Stats): TreeEntryKind {
  if (stats.isDirectory()) return 'directory';
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Every entry of the tree at `root`, the root first (or last), names in byte
 * order. An entry that changes between being listed and being opened (a
 * directory swapped for a link) is skipped: what it is now was not listed,
 * and what was listed is not there. Nothing is ever reached through a link.
 * Yields nothing when `root` does not exist.
 */
export async function* walkSafely(root: string, options: WalkOptions = {}): AsyncGenerator<SafeTreeEntry> {
  const handle = await openDirectory(root);
  if (!handle) return;
  try {
    const entry: SafeTreeEntry = {
      path: '',
      kind: 'directory',
      stats: await handle.stat(),
      parent: undefined,
      name: '',
      handle,
    };
    if (!options.directoriesLast) yield entry;
    yield* walkDirectory(handle, '', 1, options);
    if (options.directoriesLast) yield entry;
  } finally {
    await handle.close();
  }
}

async function* walkDirectory(
  dir: FileHandle,
  path: string,
  depth: number,
  options: WalkOptions,
): AsyncGenerator<SafeTreeEntry> {
  if (depth > maxTreeDepth) {
    throw new TreeError(`${JSON.stringify(path)} is more than ${maxTreeDepth} directories deep`);
  }
  let names: string[];
  try {
    names = (await readdir(`/proc/self/fd/${dir.fd}`)).sort(byteOrder);
  } catch (error) {
    if (gone(error)) return;
    throw error;
  }
  for (const name of names) {
    const full = at(dir, name);
    const relative = path ? `${path}/${name}` : name;
    let stats: Stats;
    try {
      stats = await lstat(full);
    } catch (error) {
      if (gone(error)) continue;
      throw error;
    }
    const kind = kindOf(stats);
    if (kind === 'directory' || (kind === 'file' && options.openFiles)) {
      const handle = await openSame(full, kind === 'directory' ? directoryFlags : fileFlags, stats);
      if (!handle) continue;
      try {
        const entry: SafeTreeEntry = {
          path: relative,
          kind,
          stats: await handle.stat(),
          parent: dir,
          name,
          handle,
        };
        if (kind === 'file' || !options.directoriesLast) yield entry;
        if (kind === 'directory') yield* walkDirectory(handle, relative, depth + 1, options);
        if (kind === 'directory' && options.directoriesLast) yield entry;
      } finally {
        await handle.close();
      }
      continue;
    }
    yield { path: relative, kind, stats, parent: dir, name, handle: undefined };
  }
}

/** Gives every entry of the tree to `uid`/`gid`: directories by fchown, the rest by lchown. */
export async function chownTree(root: string, uid: number, gid: number): Promise<void> {
  for await (const entry of walkSafely(root)) {
    if (entry.handle) await entry.handle.chown(uid, gid);
    else if (entry.parent) await ignoreGone(lchown(at(entry.parent, entry.name), uid, gid));
  }
}

/** Sets the mode of every directory of the tree (by fchmod); files and links are left alone. */
export async function chmodDirectories(root: string, mode: number): Promise<void> {
  for await (const entry of walkSafely(root)) {
    if (entry.kind === 'directory' && entry.handle) await entry.handle.chmod(mode);
  }
}

/** Bytes of the regular files in the tree; undefined when `root` is missing. */
export async function treeBytes(root: string): Promise<number | undefined> {
  let total = 0;
  let found = false;
  for await (const entry of walkSafely(root)) {
    found = true;
    if (entry.kind === 'file') total += entry.stats.size;
  }
  return found ? total : undefined;
}

/**
 * Removes the tree at `root` (fs.rm follows a directory swapped for a link
 * between its lstat and its readdir). Missing is removed.
 *
 * Deciding by lstat whether to rmdir or unlink an entry the tenant can still
 * swap is a race the tenant wins as often as it likes (a link that became a
 * directory by the unlink: EISDIR); retrying only makes losing less likely.
 * So each entry is first renamed, relative to its open directory (a link
 * moves as a link, never followed), into `<root>.removing`: a directory
 * beside the root (in Steward's directory, not the tenant's) that only root
 * can reach. There nothing changes it: what lstat says it is, it stays. A
 * directory is opened (O_NOFOLLOW), its entries moved out the same way, and
 * removed; anything else is unlinked. A tenant's process still inside a moved
 * directory may add entries meanwhile: those are moved out in turn, a bounded
 * number of times. A run that stopped half way leaves the holding directory,
 * which the next run empties.
 */
export async function removeTree(root: string): Promise<void> {
  const holding = `${resolve(root)}.removing`;
  const tree = await openDirectory(root);
  try {
    if (!tree && !existsSync(holding)) return;
    await mkdir(holding, { mode: 0o700 }).catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    });
    const hold = await open(holding, directoryFlags);
    try {
      // Names of this run: a stopped run's entries, still in there, are never renamed over.
      const run = randomBytes(6).toString('hex');
      let moved = 0;
      const moveOut = async (dir: FileHandle): Promise<void> => {
        for (const name of await readdir(`/proc/self/fd/${dir.fd}`)) {
          await ignoreGone(rename(at(dir, name), at(hold, `${run}-${++moved}`)));
        }
      };
      const held = (): Promise<string[]> => readdir(`/proc/self/fd/${hold.fd}`);
      for (let attempt = 0; ; attempt++) {
        try {
          if (tree) await moveOut(tree);
          for (let names = await held(); names.length > 0; names = await held()) {
            for (const name of names) await removeHeld(hold, name, moveOut);
          }
          if (tree) await ignoreGone(rmdir(root));
          await rmdir(holding);
          return;
        } catch (error) {
          if ((error as { code?: string }).code !== 'ENOTEMPTY' || attempt >= 50) throw error;
        }
      }
    } finally {
      await hold.close();
    }
  } finally {
    await tree?.close();
  }
}

/** One entry of the holding directory: a directory is emptied into it and removed, anything else unlinked. */
async function removeHeld(
  hold: FileHandle,
  name: string,
  moveOut: (dir: FileHandle) => Promise<void>,
): Promise<void> {
  const path = at(hold, name);
  const stats = await lstat(path);
  if (!stats.isDirectory()) return unlink(path);
  const handle = await openSame(path, directoryFlags, stats);
  if (!handle) throw new TreeError(`${path} changed in a directory only root can reach`);
  try {
    await moveOut(handle);
  } finally {
    await handle.close();
  }
  await rmdir(path);
}

async function ignoreGone(operation: Promise<void>): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (!gone(error)) throw error;
  }
}

/**
 * Opens the directory `relative` below the open `root`, one name at a time,
 * never through a link; with `create`, missing directories are made (mode
 * `mode`). Undefined when a step is not a directory.
 */
async function openBelow(
  root: FileHandle,
  relative: string,
  create?: { readonly mode: number },
): Promise<FileHandle | undefined> {
  // A second descriptor of the root (through its magic link, which is the root itself).
  let dir: FileHandle | undefined = await open(
    `/proc/self/fd/${root.fd}`,
    constants.O_RDONLY | constants.O_DIRECTORY,
  );
  try {
    for (const name of relative.split('/').filter((part) => part !== '' && part !== '.')) {
      const path = at(dir, name);
      if (create) {
        try {
          await mkdir(path, { mode: create.mode });
        } catch (error) {
          if ((error as { code?: string }).code !== 'EEXIST') throw error;
        }
      }
      let next: FileHandle;
      try {
        next = await open(path, directoryFlags);
      } catch (error) {
        if (gone(error)) return undefined;
        throw error;
      }
      await dir.close();
      dir = next;
    }
    const result = dir;
    dir = undefined;
    return result;
  } finally {
    await dir?.close();
  }
}

/**
 * Writes new entries into a tree (an export's files being unpacked) without
 * ever following a link, even one written a moment before: a symlink in the
 * tree is never a step on the way to another entry.
 */
export class TreeWriter {
  readonly #root: FileHandle;

  private constructor(root: FileHandle) {
    this.#root = root;
  }

  static async open(root: string): Promise<TreeWriter> {
    const handle = await openDirectory(root);
    if (!handle) throw new TreeError(`${root} is not a directory`);
    return new TreeWriter(handle);
  }

  async #parent<T>(relative: string, use: (dir: FileHandle, name: string) => Promise<T>): Promise<T> {
    const dir = await openBelow(this.#root, posix.dirname(relative), { mode: 0o700 });
    if (!dir) throw new TreeError(`${JSON.stringify(relative)} would be written through a link or a file`);
    try {
      return await use(dir, posix.basename(relative));
    } finally {
      await dir.close();
    }
  }

  async directory(relative: string, mode: number): Promise<void> {
    const dir = await openBelow(this.#root, relative, { mode });
    if (!dir) throw new TreeError(`${JSON.stringify(relative)} is a link or a file, not a directory`);
    await dir.close();
  }

  /** A new file (never an existing one, never through a link), open for writing. */
  file(relative: string, mode: number): Promise<FileHandle> {
    return this.#parent(relative, (dir, name) =>
      open(
        at(dir, name),
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        mode,
      ),
    );
  }

  symlink(relative: string, target: string): Promise<void> {
    return this.#parent(relative, (dir, name) => symlink(target, at(dir, name)));
  }

  async close(): Promise<void> {
    await this.#root.close();
  }
}

/**
 * Symlinks of a tree Steward just wrote (no tenant process sees it yet)
 * whose real path leaves the tree, checked by the kernel's own resolution: a
 * chain of links can escape where each link alone does not. A dangling link
 * is not reported (it escapes nothing now). Returns the relative paths.
 */
export async function linksLeaving(root: string): Promise<string[]> {
  const realRoot = await realpath(root);
  const out: string[] = [];
  for await (const entry of walkSafely(root)) {
    if (entry.kind !== 'symlink') continue;
    let resolved: string;
    try {
      resolved = await realpath(join(realRoot, entry.path));
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') continue;
      out.push(entry.path);
      continue;
    }
    if (resolved !== realRoot && !resolved.startsWith(realRoot + sep)) out.push(entry.path);
  }
  return out;
}

/** The target of a symlink in an open directory. */
export function readLinkAt(dir: FileHandle, name: string): Promise<string> {
  return readlink(at(dir, name));
}
