import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { InputError, showValue } from '../../core/errors.ts';
import { linkChainStaysInside, readTar, symlinkStaysInside } from '../../runtime/tar.ts';
import { linksLeaving, TreeError, TreeWriter } from '../../system/safe-fs.ts';
import { padding, tarDirectory, tarEnd, tarHeader, type DirectoryStats } from './tar-writer.ts';

/**
 * The plaintext of an export: one tar (see docs/export-format.md).
 *
 *   steward-export.json          manifest: format, tenant, stage, created at
 *   database/dump.000000 …       pg_dump -Fc output, cut into parts (cat them in order)
 *   files/…                      the stage's files directory
 *   steward-export-summary.json  sizes and the dump's sha256, written last
 *
 * The dump is cut into parts because a tar header states its entry's size and
 * pg_dump's output size is known only at its end: parts keep memory bounded
 * without writing unencrypted data to disk.
 */
export const exportFormatName = 'steward-export';
export const exportFormatVersion = 1;
export const manifestPath = 'steward-export.json';
export const summaryPath = 'steward-export-summary.json';
export const filesPrefix = 'files';
export const dumpPartBytes = 8 * 1024 * 1024;

export function dumpPartPath(index: number): string {
  return `database/dump.${String(index).padStart(6, '0')}`;
}

export interface ExportManifest {
  readonly format: typeof exportFormatName;
  readonly version: number;
  readonly tenant: string;
  readonly stage: string;
  readonly createdAt: string;
  readonly dumpFormat: 'pg_dump -Fc';
}

export interface ExportSummary {
  readonly databaseBytes: number;
  readonly databaseSha256: string;
  readonly databaseParts: number;
  readonly files: number;
  readonly fileBytes: number;
}

function jsonEntry(path: string, value: unknown, mtime: Date): Buffer[] {
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  return [
    tarHeader({ path, type: 'file', size: body.length, mode: 0o644, mtime }),
    body,
    padding(body.length),
  ];
}

/** The plaintext tar, produced as the consumer pulls it (backpressure reaches pg_dump). */
export async function* exportArchive(
  manifest: ExportManifest,
  dump: AsyncIterable<Buffer>,
  filesDir: string | undefined,
  onSummary: (summary: ExportSummary) => void,
): AsyncGenerator<Buffer> {
  const mtime = new Date(manifest.createdAt);
  yield* jsonEntry(manifestPath, manifest, mtime);
  const hash = createHash('sha256');
  let databaseBytes = 0;
  let parts = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = function* (): Generator<Buffer> {
    yield tarHeader({ path: dumpPartPath(parts), type: 'file', size: pendingBytes, mode: 0o600, mtime });
    yield* pending;
    yield padding(pendingBytes);
    parts += 1;
    pending = [];
    pendingBytes = 0;
  };
  for await (const chunk of dump) {
    let rest = chunk;
    while (rest.length > 0) {
      const take = rest.subarray(0, dumpPartBytes - pendingBytes);
      rest = rest.subarray(take.length);
      hash.update(take);
      databaseBytes += take.length;
      pending.push(take);
      pendingBytes += take.length;
      if (pendingBytes === dumpPartBytes) yield* flush();
    }
  }
  if (pendingBytes > 0 || parts === 0) yield* flush();
  const stats: DirectoryStats = { files: 0, bytes: 0 };
  if (filesDir && existsSync(filesDir)) yield* tarDirectory(filesDir, filesPrefix, stats);
  const summary: ExportSummary = {
    databaseBytes,
    databaseSha256: hash.digest('hex'),
    databaseParts: parts,
    files: stats.files,
    fileBytes: stats.bytes,
  };
  onSummary(summary);
  yield* jsonEntry(summaryPath, summary, mtime);
  yield tarEnd();
}

function refuse(message: string): InputError {
  return new InputError(`the export is refused: ${message}`, { field: 'file' });
}

async function readAll(content: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of content) {
    size += chunk.length;
    if (size > limit) throw refuse('its manifest is too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export interface ArchiveVisitor {
  /** Each part of the dump, in order. */
  dump(chunk: Buffer): Promise<void>;
  /** Where the files go; undefined only checks them. */
  readonly filesRoot: string | undefined;
}

export interface ReadResult {
  readonly manifest: ExportManifest;
  readonly summary: ExportSummary;
}

/**
 * Reads a decrypted export: checks its manifest, hands the dump over in
 * order, writes the files below `filesRoot` (never outside it, never through
 * a link, each step relative to an open directory), refuses links that leave
 * the files directory alone or through each other (checked again on the real
 * paths once unpacked) and checks the dump against the summary at the end.
 */
export async function readExportArchive(
  source: AsyncIterable<Buffer>,
  visitor: ArchiveVisitor,
): Promise<ReadResult> {
  let manifest: ExportManifest | undefined;
  let summary: ExportSummary | undefined;
  const hash = createHash('sha256');
  let databaseBytes = 0;
  let nextPart = 0;
  const links = new Map<string, string>();
  const writer = visitor.filesRoot === undefined ? undefined : await TreeWriter.open(visitor.filesRoot);
  try {
    await readTar(
      source,
      async (entry, content) => {
        if (summary) throw refuse(`entry ${showValue(entry.path)} follows the summary`);
        if (!manifest) {
          if (entry.path !== manifestPath || entry.type !== 'file')
            throw refuse(`it does not start with ${manifestPath}; is this a Steward export?`);
          const parsed = JSON.parse((await readAll(content, 64 * 1024)).toString('utf8')) as ExportManifest;
          if (parsed.format !== exportFormatName || parsed.version !== exportFormatVersion)
            throw refuse(
              `format ${showValue(parsed.format)} version ${showValue(parsed.version)} is not known`,
            );
          manifest = parsed;
          return;
        }
        if (entry.path.startsWith('database/')) {
          if (entry.path !== dumpPartPath(nextPart) || entry.type !== 'file')
            throw refuse(`expected ${dumpPartPath(nextPart)}, found ${showValue(entry.path)}`);
          nextPart += 1;
          for await (const chunk of content) {
            hash.update(chunk);
            databaseBytes += chunk.length;
            await visitor.dump(chunk);
          }
          return;
        }
        if (entry.path === summaryPath) {
          summary = JSON.parse((await readAll(content, 64 * 1024)).toString('utf8')) as ExportSummary;
          return;
        }
        if (entry.path === filesPrefix || entry.path.startsWith(`${filesPrefix}/`)) {
          const relative = entry.path.slice(filesPrefix.length + 1);
          if (relative === '') return;
          const parts = relative.split('/');
          for (let i = 1; i < parts.length; i++) {
            if (links.has(parts.slice(0, i).join('/')))
              throw refuse(`entry ${showValue(entry.path)} would be written through a symlink`);
          }
          if (entry.type === 'symlink') {
            if (!symlinkStaysInside(relative, entry.linkTarget))
              throw refuse(`symlink ${showValue(entry.path)} points outside the files directory`);
            links.set(relative, entry.linkTarget);
            await writer?.symlink(relative, entry.linkTarget);
            return;
          }
          if (entry.type === 'directory') {
            await writer?.directory(relative, entry.mode & 0o777);
            return;
          }
          if (entry.type !== 'file') throw refuse(`entry ${showValue(entry.path)} is a ${entry.type}`);
          if (!writer) {
            for await (const chunk of content) void chunk;
            return;
          }
          const handle = await writer.file(relative, entry.mode & 0o777);
          try {
            for await (const chunk of content) await handle.write(chunk);
          } finally {
            await handle.close();
          }
          return;
        }
        throw refuse(`entry ${showValue(entry.path)} is not part of the export format`);
      },
      // age does not compress: the plaintext is as large as the encrypted file, which bounds it.
      { maxBytes: Number.MAX_SAFE_INTEGER },
    );
    // Each link alone stayed inside; followed one through another, they must too.
    for (const path of links.keys()) {
      if (!linkChainStaysInside(path, links))
        throw refuse(
          `symlink ${showValue(`${filesPrefix}/${path}`)} leaves the files directory through other links`,
        );
    }
    if (visitor.filesRoot !== undefined) {
      const leaving = await linksLeaving(visitor.filesRoot);
      if (leaving.length > 0)
        throw refuse(
          `symlink ${showValue(`${filesPrefix}/${leaving[0]}`)} resolves outside the files directory`,
        );
    }
  } catch (error) {
    // The tar reader speaks of release archives; here the archive is an export.
    if (error instanceof InputError && error.message.startsWith('the release archive is refused: '))
      throw refuse(error.message.slice('the release archive is refused: '.length));
    if (error instanceof TreeError) throw refuse(error.message);
    throw error;
  } finally {
    await writer?.close();
  }
  if (!manifest) throw refuse('it is empty');
  if (!summary) throw refuse('it ends before its summary: the file is cut short');
  const digest = hash.digest('hex');
  if (digest !== summary.databaseSha256 || databaseBytes !== summary.databaseBytes)
    throw refuse('its database dump does not match the checksum in its summary');
  return { manifest, summary };
}
