import type { IncomingMessage } from 'node:http';

/**
 * A small url-encoded form body posted to a page the gateway answers itself
 * (sign-in pages, status pages); undefined when it is not one or is larger
 * than maxBytes. Listens at once: the gateway's body watch has already put the
 * stream in flowing mode.
 */
export function readForm(req: IncomingMessage, maxBytes: number): Promise<URLSearchParams | undefined> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.once('end', () =>
      resolve(
        type === 'application/x-www-form-urlencoded' && size <= maxBytes
          ? new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
          : undefined,
      ),
    );
    req.once('error', () => resolve(undefined));
  });
}
