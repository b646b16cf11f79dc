import { readLinkAt, walkSafely } from '../../system/safe-fs.ts';

/**
 * A streaming writer of POSIX tar (ustar, with pax headers for long or
 * non-ASCII names), enough for an export: regular files, directories and
 * symlinks. Any tar reads the result (`tar -x`).
 */
const block = 512;
const zeroBlock = Buffer.alloc(block);

export interface TarHeaderInput {
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly size: number;
  readonly mode: number;
  readonly mtime: Date;
  readonly linkTarget?: string;
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

function ustarHeader(input: TarHeaderInput, name: string, link: string, typeflag: string): Buffer {
  const header = Buffer.alloc(block);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(input.mode & 0o7777, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(input.size, 12), 124, 'ascii');
  header.write(octal(Math.max(0, Math.floor(input.mtime.getTime() / 1000)), 12), 136, 'ascii');
  header.write(' '.repeat(8), 148, 'ascii');
  header.write(typeflag, 156, 'ascii');
  header.write(link, 157, 100, 'utf8');
  header.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 'ascii');
  return header;
}

function fitsUstar(value: string): boolean {
  return Buffer.byteLength(value) < 100 && /^[\x20-\x7e]*$/.test(value);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return `${length}${body}`;
}

/** The header block(s) of one entry; a pax extended header first when names need it. */
export function tarHeader(input: TarHeaderInput): Buffer {
  const typeflag = input.type === 'file' ? '0' : input.type === 'directory' ? '5' : '2';
  const name = input.type === 'directory' && !input.path.endsWith('/') ? `${input.path}/` : input.path;
  const link = input.linkTarget ?? '';
  const records: string[] = [];
  if (!fitsUstar(name)) records.push(paxRecord('path', name));
  if (!fitsUstar(link)) records.push(paxRecord('linkpath', link));
  const main = ustarHeader(
    input,
    fitsUstar(name) ? name : 'pax-long-name',
    fitsUstar(link) ? link : '',
    typeflag,
  );
  if (records.length === 0) return main;
  const paxBody = Buffer.from(records.join(''), 'utf8');
  const paxHeader = ustarHeader(
    { path: 'PaxHeader', type: 'file', size: paxBody.length, mode: 0o644, mtime: input.mtime },
    'PaxHeader',
    '',
    'x',
  );
  return Buffer.concat([paxHeader, paxBody, padding(paxBody.length), main]);
}

/** Zero bytes that fill an entry of `size` bytes up to the next block. */
export function padding(size: number): Buffer {
  const rest = size % block;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(block - rest);
}

/** Two zero blocks end an archive. */
export function tarEnd(): Buffer {
  return Buffer.concat([zeroBlock, zeroBlock]);
}

export interface DirectoryStats {
  files: number;
  bytes: number;
}

/**
 * Entries of a stage's files directory below `prefix`, content streamed from
 * disk. The tree is the tenant's: it is walked relative to open directories
 * and every file is read from the descriptor opened without following a
 * link (see safe-fs), so a directory swapped for a symlink mid-export adds
 * nothing from outside the tree. A file that changes size while it is read
 * (an app still writing) is cut or zero-padded to the size its header
 * announced, so the archive stays valid. Sockets, FIFOs and devices are
 * skipped: they hold no data.
 */
export async function* tarDirectory(
  root: string,
  prefix: string,
  stats: DirectoryStats,
): AsyncGenerator<Buffer> {
  for await (const entry of walkSafely(root, { openFiles: true })) {
    const path = entry.path === '' ? prefix : `${prefix}/${entry.path}`;
    const info = entry.stats;
    if (entry.kind === 'directory') {
      yield tarHeader({ path, type: 'directory', size: 0, mode: info.mode, mtime: info.mtime });
    } else if (entry.kind === 'symlink' && entry.parent) {
      const target = await readLinkAt(entry.parent, entry.name).catch(() => undefined);
      if (target === undefined) continue; // gone since it was listed
      yield tarHeader({ path, type: 'symlink', size: 0, mode: 0o777, mtime: info.mtime, linkTarget: target });
    } else if (entry.kind === 'file' && entry.handle) {
      yield tarHeader({ path, type: 'file', size: info.size, mode: info.mode, mtime: info.mtime });
      let left = info.size;
      const buffer = Buffer.alloc(Math.min(readChunkBytes, Math.max(1, left)));
      while (left > 0) {
        const { bytesRead } = await entry.handle.read(buffer, 0, Math.min(buffer.length, left), null);
        if (bytesRead === 0) break;
        left -= bytesRead;
        // A copy: the buffer is reused for the next read while this chunk may still be queued.
        yield Buffer.from(buffer.subarray(0, bytesRead));
      }
      if (left > 0) yield Buffer.alloc(left);
      yield padding(info.size);
      stats.files += 1;
      stats.bytes += info.size;
    }
  }
}

const readChunkBytes = 64 * 1024;
