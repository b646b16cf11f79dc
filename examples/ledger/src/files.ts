import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { HttpError, inputError } from './http.ts';

/**
 * Attachments live in the stage's files directory (STEWARD_FILES_DIR) under
 * invoices/<invoice id>/<sanitised name>; the database keeps the path relative
 * to that directory, so a restored stage can use another one.
 */

/** A file name safe on every file system: letters, digits, dot, dash, underscore. */
export function sanitiseFileName(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, 100);
  if (cleaned === '' || /^_*$/.test(cleaned))
    throw inputError(
      'name',
      `${JSON.stringify(raw.slice(0, 60))} has no usable characters; use letters, digits, dot, dash or underscore`,
    );
  return cleaned;
}

export function attachmentPath(invoiceId: number, fileName: string): string {
  return `invoices/${invoiceId}/${fileName}`;
}

/** The absolute path of a stored relative path, refusing anything outside the files directory. */
export function absolutePath(filesDir: string, storedPath: string): string {
  const root = resolve(filesDir);
  const full = resolve(root, storedPath);
  if (!full.startsWith(root + sep)) throw new Error(`stored path ${storedPath} leaves the files directory`);
  return full;
}

export interface Upload {
  readonly tempPath: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * Streams a request body into a temporary file next to its final place,
 * hashing as it goes. Over the limit: the partial file is removed and the
 * request refused with 413.
 */
export async function receiveUpload(
  req: IncomingMessage,
  filesDir: string,
  invoiceId: number,
  maxBytes: number,
): Promise<Upload> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const dir = absolutePath(filesDir, `invoices/${invoiceId}`);
  await mkdir(dir, { recursive: true });
  const tempPath = join(dir, `.upload-${randomBytes(8).toString('hex')}`);
  const hash = createHash('sha256');
  const out = createWriteStream(tempPath, { flags: 'wx', mode: 0o640 });
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      hash.update(chunk);
      if (!out.write(chunk))
        await new Promise<void>((r, j) => {
          out.once('drain', r);
          out.once('error', j);
        });
    }
    if (req.readableAborted) throw new HttpError(400, 'aborted', 'the upload was aborted', 'body');
    await new Promise<void>((r, j) => {
      out.once('error', j);
      out.end(r);
    });
    return { tempPath, size, sha256: hash.digest('hex') };
  } catch (error) {
    // Wait for the stream to close: an open still under way would recreate the file after rm.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()).destroy());
    await rm(tempPath, { force: true });
    throw error;
  }
}

export async function placeUpload(upload: Upload, filesDir: string, storedPath: string): Promise<void> {
  await rename(upload.tempPath, absolutePath(filesDir, storedPath));
}

export async function discardUpload(upload: Upload): Promise<void> {
  await rm(upload.tempPath, { force: true });
}

const tooLarge = (maxBytes: number): HttpError =>
  new HttpError(413, 'too_large', `the file is larger than the limit of ${maxBytes} bytes`, 'body');
