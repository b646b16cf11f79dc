import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  chmodDirectories,
  chownTree,
  linksLeaving,
  maxTreeDepth,
  removeTree,
  TreeWriter,
  treeBytes,
  walkSafely,
} from '../../src/system/safe-fs.ts';
import { startSwapper, stopSwapper } from '../harness/swapper.ts';

const isRoot = process.getuid?.() === 0;
const stageUid = 259_999;

/** Owner, mode and content of everything below `dir`, links not followed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (relative: string): Promise<void> => {
    const path = join(dir, relative);
    const info = await lstat(path);
    const content = info.isFile() ? ` ${await readFile(path, 'utf8')}` : '';
    out[relative || '.'] = `${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)}${content}`;
    if (info.isDirectory()) for (const name of await readdir(path)) await visit(join(relative, name));
  };
  await visit('');
  return out;
}

describe.runIf(isRoot)('operations on a tenant-controlled tree never go through its links', () => {
  let work: string;
  let outside: string;
  let root: string;
  let swapper: ChildProcess | undefined;
  let n = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'steward-safe-fs-'));
    outside = join(work, 'outside');
    await mkdir(join(outside, 'lib'), { recursive: true });
    await chmod(outside, 0o755);
    await writeFile(join(outside, 'master.key'), 'SECRET', { mode: 0o600 });
  });
  beforeEach(async () => {
    root = join(work, `tree${n++}`);
    await mkdir(join(root, 'dir'), { recursive: true });
    await writeFile(join(root, 'dir', 'file'), 'mine');
    await symlink(join(outside, 'master.key'), join(root, 'key'));
    await symlink(outside, join(root, 'out'));
    // A chain: each link alone stays inside, together they reach the parent.
    await symlink('.', join(root, 'a'));
    await symlink('a/..', join(root, 'up'));
  });
  afterEach(async () => {
    await stopSwapper(swapper);
    swapper = undefined;
  });
  afterAll(async () => {
    await stopSwapper(swapper);
    await rm(work, { recursive: true, force: true });
  });

  it('chowns the tree and its links themselves, nothing they point to', async () => {
    const before = await snapshot(outside);
    const parent = await lstat(work);
    await chownTree(root, stageUid, stageUid);
    expect(await snapshot(outside)).toEqual(before);
    expect((await lstat(work)).uid).toBe(parent.uid);
    for (const path of ['', 'dir', 'dir/file', 'key', 'out', 'a', 'up']) {
      expect((await lstat(join(root, path))).uid, path).toBe(stageUid);
    }
  });

  it('measures and chmods only the tree', async () => {
    const before = await snapshot(outside);
    expect(await treeBytes(root)).toBe(4);
    await chmodDirectories(root, 0o500);
    expect((await lstat(join(root, 'dir'))).mode & 0o777).toBe(0o500);
    await chmodDirectories(root, 0o700);
    expect(await snapshot(outside)).toEqual(before);
    expect(await treeBytes(join(work, 'missing'))).toBeUndefined();
  });

  it('chowns and chmods nothing outside while a directory is swapped for a link', async () => {
    const before = await snapshot(outside);
    swapper = startSwapper(root, 'dir', outside);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 200; i++) {
      await chownTree(root, stageUid, stageUid);
      await chmodDirectories(root, i % 2 ? 0o700 : 0o500);
    }
    await stopSwapper(swapper);
    expect(await snapshot(outside)).toEqual(before);
  });

  it('removes the tree and nothing outside, while a directory is swapped for a link', async () => {
    const before = await snapshot(outside);
    for (let i = 0; i < 10; i++) {
      const tree = join(work, `remove${i}`);
      await mkdir(join(tree, 'dir'), { recursive: true });
      await writeFile(join(tree, 'dir', 'file'), 'mine');
      await symlink(outside, join(tree, 'out'));
      swapper = startSwapper(tree, 'dir', outside);
      await new Promise((r) => setTimeout(r, 20));
      await removeTree(tree);
      await stopSwapper(swapper);
      expect(existsSync(tree)).toBe(false);
      expect(existsSync(`${tree}.removing`)).toBe(false);
    }
    expect(await snapshot(outside)).toEqual(before);
    await removeTree(join(work, 'missing'));
  });

  it('walks without reading through a link: only entries of the tree, links as links', async () => {
    const seen: string[] = [];
    for await (const entry of walkSafely(root, { openFiles: true })) seen.push(`${entry.path}:${entry.kind}`);
    expect(seen).toEqual([
      ':directory',
      'a:symlink',
      'dir:directory',
      'dir/file:file',
      'key:symlink',
      'out:symlink',
      'up:symlink',
    ]);
  });

  it('writes new entries only inside, never through a link, and finds links whose real path leaves', async () => {
    const writer = await TreeWriter.open(root);
    try {
      await writer.directory('new/deeper', 0o700);
      const handle = await writer.file('new/deeper/f', 0o600);
      await handle.close();
      await writer.symlink('new/link', '../dir/file');
      await expect(writer.file('out/planted', 0o644)).rejects.toThrow(/would be written through a link/);
      await expect(writer.file('up/planted', 0o644)).rejects.toThrow(/would be written through a link/);
      await expect(writer.directory('key', 0o700)).rejects.toThrow(/not a directory/);
      await expect(writer.file('dir/file', 0o644)).rejects.toThrow(/EEXIST/);
    } finally {
      await writer.close();
    }
    expect(existsSync(join(outside, 'planted'))).toBe(false);
    expect((await linksLeaving(root)).sort()).toEqual(['key', 'out', 'up']);
  });

  it(`refuses a tree deeper than ${maxTreeDepth} directories`, async () => {
    await mkdir(join(root, ...Array.from({ length: maxTreeDepth + 1 }, () => 'd')), { recursive: true });
    await expect(treeBytes(root)).rejects.toThrow(`is more than ${maxTreeDepth} directories deep`);
  });
});
