import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTarGz, linkChainStaysInside } from '../../src/runtime/tar.ts';

const MiB = 1024 * 1024;

/** One ustar header that claims `size` bytes of data, whatever follows it. */
function header(name: string, typeflag: string, size: number, linkname = ''): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100, 'utf8');
  block.write('0000755\0', 100, 'ascii');
  block.write('0000000\0', 108, 'ascii');
  block.write('0000000\0', 116, 'ascii');
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  block.write('00000000000\0', 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write(typeflag, 156, 'ascii');
  block.write(linkname, 157, 100, 'utf8');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** A pax extended header with these records, for the entry after it. */
function pax(records: Record<string, string>): Buffer {
  const body = Buffer.from(
    Object.entries(records)
      .map(([key, value]) => {
        const text = ` ${key}=${value}\n`;
        let length = text.length + 1;
        while (String(length).length + text.length !== length) length += 1;
        return `${length}${text}`;
      })
      .join(''),
  );
  return Buffer.concat([
    header('PaxHeader', 'x', body.length),
    body,
    Buffer.alloc(512 - (body.length % 512)),
  ]);
}

/**
 * A small .tar.gz that unpacks to `zeros` bytes of zeros after `head`: gzip
 * members may be concatenated, so one compressed 16 MiB of zeros is repeated
 * (about 16 KiB each) rather than compressing a gigabyte here.
 */
function bomb(head: Buffer, zeros: number): Buffer {
  const piece = 16 * MiB;
  const zeroMember = gzipSync(Buffer.alloc(piece), { level: 9 });
  const members = [gzipSync(head)];
  for (let left = zeros; left > 0; left -= piece) {
    members.push(left >= piece ? zeroMember : gzipSync(Buffer.alloc(left)));
  }
  return Buffer.concat(members);
}

/** Runs `work` while sampling memory; the largest growth of ArrayBuffer memory and RSS seen. */
async function peakGrowth<T>(
  work: () => Promise<T>,
): Promise<{ result: PromiseSettledResult<T>; arrayBuffers: number; rss: number }> {
  const before = process.memoryUsage();
  let arrayBuffers = 0;
  let rss = 0;
  const sample = (): void => {
    const now = process.memoryUsage();
    arrayBuffers = Math.max(arrayBuffers, now.arrayBuffers - before.arrayBuffers);
    rss = Math.max(rss, now.rss - before.rss);
  };
  const timer = setInterval(sample, 5);
  const [result] = await Promise.allSettled([work()]);
  clearInterval(timer);
  sample();
  return { result, arrayBuffers, rss };
}

describe('the tar reader bounds memory and counts every byte against the limit', () => {
  let root: string;
  let n = 0;
  const limits = { maxBytes: 64 * MiB, maxEntries: 1000 };
  const target = async (): Promise<string> => {
    const dir = join(root, `x${n++}`);
    await mkdir(dir);
    return dir;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'steward-tar-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a gzip bomb (a directory claiming 1 GiB of data) without holding it', async () => {
    const archive = bomb(header('app/', '5', 1024 * MiB), 1024 * MiB);
    expect(archive.length).toBeLessThan(2 * MiB);
    const dir = await target();
    const { result, arrayBuffers, rss } = await peakGrowth(() => extractTarGz(archive, dir, limits));
    expect(result.status).toBe('rejected');
    expect(String((result as PromiseRejectedResult).reason)).toMatch(/unpacks to more than 67108864 bytes/);
    // The bomb is 1 GiB; the reader held at most a few chunks of it.
    expect(arrayBuffers).toBeLessThan(32 * MiB);
    expect(rss).toBeLessThan(256 * MiB);
  }, 30_000);

  it('counts a pax size on a non-file entry, and holds none of its data', async () => {
    const archive = bomb(
      Buffer.concat([pax({ size: String(1024 * MiB) }), header('app/', '5', 0)]),
      1024 * MiB,
    );
    const dir = await target();
    const { result, arrayBuffers } = await peakGrowth(() => extractTarGz(archive, dir, limits));
    expect(result.status).toBe('rejected');
    expect(String((result as PromiseRejectedResult).reason)).toMatch(/unpacks to more than 67108864 bytes/);
    expect(arrayBuffers).toBeLessThan(32 * MiB);
  }, 30_000);

  it('passes over the data a symlink claims and counts it, instead of reading it as headers', async () => {
    // Zeros after the link read as the end of the archive if its data is not skipped.
    const archive = bomb(header('link', '2', 100 * MiB, 'target'), 100 * MiB);
    const dir = await target();
    await expect(extractTarGz(archive, dir, limits)).rejects.toThrow(/unpacks to more than 67108864 bytes/);
  }, 30_000);

  it('skips a non-file entry data that fits, and reads the entries after it', async () => {
    const data = Buffer.alloc(1024, 0x41);
    const archive = gzipSync(
      Buffer.concat([
        header('d/', '5', data.length),
        data,
        header('d/f', '0', 2),
        Buffer.concat([Buffer.from('ok'), Buffer.alloc(510)]),
        Buffer.alloc(1024),
      ]),
    );
    const dir = await target();
    await extractTarGz(archive, dir, limits);
    expect(await readdir(join(dir, 'd'))).toEqual(['f']);
  });

  it.each(['12abc', '-5', '1e9', '0x10', '', '99999999999999999999'])(
    'refuses the pax size %j, naming it',
    async (size) => {
      const archive = gzipSync(Buffer.concat([pax({ size }), header('f', '0', 0), Buffer.alloc(1024)]));
      const dir = await target();
      await expect(extractTarGz(archive, dir, limits)).rejects.toThrow(
        `a pax header gives the size ${JSON.stringify(size)}; a size is a whole number of bytes`,
      );
    },
  );
});

describe('links followed one through another stay inside', () => {
  it.each([
    ['a', [['a', 'b']], true],
    [
      'b',
      [
        ['a', '.'],
        ['b', 'a/..'],
      ],
      false,
    ],
    ['d/l', [['d/l', '..']], true],
    [
      'c',
      [
        ['d/l', '..'],
        ['c', 'd/l/..'],
      ],
      false,
    ],
    [
      'c',
      [
        ['d/l', '../d'],
        ['c', 'd/l/x'],
      ],
      true,
    ],
    [
      'x',
      [
        ['x', 'y'],
        ['y', 'x'],
      ],
      false,
    ],
    ['x', [['x', '/etc']], false],
    [
      'e/f',
      [
        ['e', 'd/l'],
        ['d/l', '../..'],
      ],
      false,
    ],
    ['f', [['f', 'missing/../ok']], true],
  ] as const)('%s with %j: %s', (path, links, inside) => {
    expect(linkChainStaysInside(path, new Map(links.map(([p, t]) => [p, t])))).toBe(inside);
  });
});
