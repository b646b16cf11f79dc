import { lstat, mkdir, open, copyFile, symlink, chmod } from 'node:fs/promises';
import { constants } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError, showValue } from '../core/errors.ts';

/**
 * A small, strict reader for .tar.gz release archives (ustar, GNU long
 * names, pax headers). It refuses what a release never needs and an attacker
 * would: absolute paths, "..", links that leave the archive, device files,
 * writes through a symlink. Everything lands below one directory.
 */
export const tarEntryTypes = ['file', 'directory', 'symlink', 'hardlink'] as const;
export type TarEntryType = (typeof tarEntryTypes)[number];

export interface TarEntry {
  readonly type: TarEntryType;
  /** Relative, normalised, never empty, never containing "..". */
  readonly path: string;
  readonly mode: number;
  readonly size: number;
  readonly linkTarget: string;
}

export interface ExtractLimits {
  /** Bytes of file content (hard links copied count again), and of the whole unpacked tar stream. */
  readonly maxBytes: number;
  readonly maxEntries: number;
}

export const defaultExtractLimits: ExtractLimits = { maxBytes: 2 * 1024 ** 3, maxEntries: 100_000 };

export interface ReadLimits {
  /**
   * Bytes of the whole tar stream (headers, extended headers, padding and
   * every entry's data, whatever its type): a small .tar.gz that unpacks to
   * more is refused as it is read, never held.
   */
  readonly maxBytes: number;
}

/** Extended headers (long names, pax records) are held in memory while read: at most this. */
const maxExtendedHeaderBytes = 1024 * 1024;

const block = 512;

function refuse(message: string, cause?: unknown): InputError {
  return new InputError(`the release archive is refused: ${message}`, {
    field: 'body',
    ...(cause ? { cause } : {}),
  });
}

/**
 * Normalises an archive path to a relative one, or returns undefined for the
 * archive root ("./"). Throws for absolute paths and "..".
 */
export function safeArchivePath(name: string): string | undefined {
  if (name.includes('\0')) throw refuse(`entry ${showValue(name)} contains a NUL byte`);
  if (name.startsWith('/')) throw refuse(`entry ${showValue(name)} is an absolute path`);
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw refuse(`entry ${showValue(name)} contains ".."`);
    parts.push(part);
  }
  return parts.length === 0 ? undefined : parts.join('/');
}

/** A symlink may point anywhere inside the archive, nowhere outside it. */
export function symlinkStaysInside(path: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || target.includes('\0')) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  return resolved !== '..' && !resolved.startsWith('../');
}

/**
 * Whether `path` stays inside the archive when every symlink on the way is
 * followed the way the kernel would: `links` maps each symlink's path to its
 * target. Checking each link alone is not enough: "a -> ." then "b -> a/.."
 * leaves although "a/.." does not. A missing step counts as a directory; an
 * absolute target, too many hops or ".." above the root leave.
 */
export function linkChainStaysInside(path: string, links: ReadonlyMap<string, string>): boolean {
  const resolved: string[] = [];
  const todo = path.split('/').reverse();
  let hops = 0;
  for (let part = todo.pop(); part !== undefined; part = todo.pop()) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) return false;
      resolved.pop();
      continue;
    }
    resolved.push(part);
    const target = links.get(resolved.join('/'));
    if (target === undefined) continue;
    hops += 1;
    if (hops > 40 || target === '' || target.startsWith('/')) return false;
    resolved.pop();
    todo.push(...target.split('/').reverse());
  }
  return true;
}

/** Reads exact byte counts from a stream of chunks; every byte counts against the limit. */
class ByteReader {
  readonly #source: AsyncIterator<Buffer>;
  readonly #maxBytes: number;
  #pending: Buffer = Buffer.alloc(0);
  #done = false;
  #total = 0;

  constructor(source: AsyncIterable<Buffer>, maxBytes: number) {
    this.#source = source[Symbol.asyncIterator]();
    this.#maxBytes = maxBytes;
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#pending.length < n && !this.#done) {
      const next = await this.#source.next();
      if (next.done) {
        this.#done = true;
        break;
      }
      this.#total += next.value.length;
      if (this.#total > this.#maxBytes) throw refuse(`it unpacks to more than ${this.#maxBytes} bytes`);
      this.#pending = this.#pending.length ? Buffer.concat([this.#pending, next.value]) : next.value;
    }
    return this.#pending.length >= n;
  }

  /** Exactly n bytes, or undefined at the end of the stream. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.#fill(n))) return undefined;
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    return out;
  }

  /** n bytes as they arrive, without holding them all. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#pending.length === 0 && !(await this.#fill(1)))
        throw refuse('it ends in the middle of a file');
      const take = Math.min(left, this.#pending.length);
      yield this.#pending.subarray(0, take);
      this.#pending = this.#pending.subarray(take);
      left -= take;
    }
  }

  /** Passes over n bytes as they arrive, holding none of them. */
  async skip(n: number): Promise<void> {
    for await (const chunk of this.stream(n)) void chunk;
  }
}

function text(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? slice.length : end).toString('utf8');
}

function octal(buf: Buffer, start: number, length: number, what: string): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256 for sizes above 8 GiB: far above any limit, so refuse.
    throw refuse(`a ${what} field is too large`);
  }
  const raw = text(buf, start, length).trim();
  if (raw === '') return 0;
  if (!/^[0-7]+$/.test(raw)) throw refuse(`a header has an unreadable ${what} field`);
  return parseInt(raw, 8);
}

function checksumMatches(header: Buffer): boolean {
  const stored = octal(header, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
  return sum === stored;
}

function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) {
      throw refuse('a pax header is malformed');
    }
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

/** A pax "size" record: a decimal count of bytes, nothing else. */
function paxSize(value: string): number {
  const size = Number(value);
  if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(size)) {
    throw refuse(`a pax header gives the size ${showValue(value)}; a size is a whole number of bytes`);
  }
  return size;
}

/**
 * Reads the entries of a tar stream. `visit` gets each entry and, for
 * files, the content as a stream it must consume. Memory stays bounded
 * whatever the archive says: only headers and extended headers (at most
 * 1 MiB) are held; the data of other entries is passed over as it arrives,
 * and every byte of the stream counts against `limits.maxBytes`.
 */
export async function readTar(
  source: AsyncIterable<Buffer>,
  visit: (entry: TarEntry, content: AsyncIterable<Buffer>) => Promise<void>,
  limits: ReadLimits = defaultExtractLimits,
): Promise<void> {
  const reader = new ByteReader(source, limits.maxBytes);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  let first = true;
  for (;;) {
    const header = await reader.read(block);
    if (!header) {
      if (first) throw refuse('it is empty');
      throw refuse('it ends without the end-of-archive marker; the upload may be cut short');
    }
    if (header.every((b) => b === 0)) return;
    if (!checksumMatches(header)) {
      throw refuse(first ? 'it is not a tar archive' : 'a header is damaged (checksum mismatch)');
    }
    first = false;
    const typeflag = String.fromCharCode(header[156] ?? 0);
    const paxSizeValue = pax.get('size');
    const size = paxSizeValue === undefined ? octal(header, 124, 12, 'size') : paxSize(paxSizeValue);
    const padded = Math.ceil(size / block) * block;
    const ustar = text(header, 257, 6) === 'ustar';
    const prefix = ustar ? text(header, 345, 155) : '';
    const rawName =
      longName ?? pax.get('path') ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    const linkTarget = longLink ?? pax.get('linkpath') ?? text(header, 157, 100);

    if (typeflag === 'L' || typeflag === 'K' || typeflag === 'x' || typeflag === 'g') {
      if (size > maxExtendedHeaderBytes) throw refuse('an extended header is larger than 1 MiB');
      const data = await reader.read(padded);
      if (!data) throw refuse('it ends inside an extended header');
      const body = data.subarray(0, size);
      if (typeflag === 'L') longName = text(body, 0, body.length);
      else if (typeflag === 'K') longLink = text(body, 0, body.length);
      else if (typeflag === 'x') pax = parsePax(body);
      continue;
    }
    longName = undefined;
    longLink = undefined;
    pax = new Map();

    const mode = octal(header, 100, 8, 'mode') & 0o7777;
    let type: TarEntryType;
    switch (typeflag) {
      case '0':
      case '\0':
      case '7':
        type = 'file';
        break;
      case '5':
        type = 'directory';
        break;
      case '2':
        type = 'symlink';
        break;
      case '1':
        type = 'hardlink';
        break;
      case '3':
      case '4':
        throw refuse(`entry ${showValue(rawName)} is a device file`);
      case '6':
        throw refuse(`entry ${showValue(rawName)} is a named pipe`);
      default:
        throw refuse(
          `entry ${showValue(rawName)} has tar type ${showValue(typeflag)}, which releases do not use`,
        );
    }
    const path = safeArchivePath(rawName);
    if (type === 'file') {
      if (path === undefined) throw refuse(`entry ${showValue(rawName)} is a file at the archive root`);
      await visit({ type, path, mode, size, linkTarget: '' }, reader.stream(size));
      if (padded > size && !(await reader.read(padded - size))) throw refuse('it ends inside a file');
      continue;
    }
    // Directories and links carry no data, but an archive may claim some: pass over it, never hold it.
    if (size > 0) await reader.skip(padded);
    if (path === undefined) {
      if (type === 'directory') continue;
      throw refuse(`entry ${showValue(rawName)} is a link at the archive root`);
    }
    await visit({ type, path, mode, size: 0, linkTarget }, (async function* () {})());
  }
}

function gunzip(source: Buffer | AsyncIterable<Uint8Array>): AsyncIterable<Buffer> {
  const input = Buffer.isBuffer(source) ? Readable.from([source]) : Readable.from(source);
  const unzip = createGunzip();
  input.on('error', (error) => unzip.destroy(error));
  input.pipe(unzip);
  return (async function* () {
    try {
      for await (const chunk of unzip) yield chunk as Buffer;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (code.startsWith('Z_'))
        throw refuse(`it is not a valid .tar.gz (${(error as Error).message})`, error);
      throw error;
    } finally {
      input.destroy();
      unzip.destroy();
    }
  })();
}

export interface ExtractResult {
  readonly entries: number;
  readonly bytes: number;
}

/**
 * Extracts a .tar.gz into `root`, which must be a new, empty directory.
 * Never follows a link while writing; never writes outside `root`.
 */
export async function extractTarGz(
  source: Buffer | AsyncIterable<Uint8Array>,
  root: string,
  limits: ExtractLimits = defaultExtractLimits,
): Promise<ExtractResult> {
  const kinds = new Map<string, TarEntryType>();
  const symlinks = new Set<string>();
  let entries = 0;
  let bytes = 0;

  const ensureParents = async (path: string): Promise<void> => {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const kind = kinds.get(prefix);
      if (kind === 'symlink')
        throw refuse(`entry ${showValue(path)} would be written through the symlink ${showValue(prefix)}`);
      if (kind && kind !== 'directory')
        throw refuse(`entry ${showValue(path)} is below ${showValue(prefix)}, which is not a directory`);
      if (!kind) {
        await mkdir(posix.join(root, prefix), { mode: 0o755 });
        kinds.set(prefix, 'directory');
      }
    }
  };

  await readTar(
    gunzip(source),
    async (entry, content) => {
      entries += 1;
      if (entries > limits.maxEntries) throw refuse(`it has more than ${limits.maxEntries} entries`);
      const existing = kinds.get(entry.path);
      if (existing && !(existing === 'directory' && entry.type === 'directory')) {
        throw refuse(`entry ${showValue(entry.path)} appears twice`);
      }
      await ensureParents(entry.path);
      const target = posix.join(root, entry.path);
      switch (entry.type) {
        case 'directory':
          if (!existing) await mkdir(target, { mode: 0o755 });
          break;
        case 'file': {
          bytes += entry.size;
          if (bytes > limits.maxBytes) throw refuse(`it unpacks to more than ${limits.maxBytes} bytes`);
          const handle = await open(
            target,
            constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
            entry.mode & 0o111 ? 0o755 : 0o644,
          );
          try {
            for await (const chunk of content) await handle.write(chunk);
          } finally {
            await handle.close();
          }
          break;
        }
        case 'symlink':
          if (!symlinkStaysInside(entry.path, entry.linkTarget)) {
            throw refuse(
              `symlink ${showValue(entry.path)} points outside the release (to ${showValue(entry.linkTarget)})`,
            );
          }
          await symlink(entry.linkTarget, target);
          symlinks.add(entry.path);
          break;
        case 'hardlink': {
          const source = safeArchivePath(entry.linkTarget);
          if (source === undefined || kinds.get(source) !== 'file') {
            throw refuse(
              `hard link ${showValue(entry.path)} must point to a file earlier in the archive, not ${showValue(entry.linkTarget)}`,
            );
          }
          // A copy, not a link: the release's files stay independent of each other.
          await copyFile(posix.join(root, source), target, constants.COPYFILE_EXCL);
          const stat = await lstat(target);
          bytes += stat.size;
          if (bytes > limits.maxBytes) throw refuse(`it unpacks to more than ${limits.maxBytes} bytes`);
          await chmod(target, stat.mode & 0o111 ? 0o755 : 0o644);
          break;
        }
      }
      kinds.set(entry.path, entry.type === 'hardlink' ? 'file' : entry.type);
    },
    limits,
  );
  return { entries, bytes };
}
