import { Transform, type TransformCallback } from 'node:stream';

/**
 * Counts a request body against the body limit as it streams. A
 * Content-Length past the limit is refused before any byte is read (see
 * headers.ts); a chunked body announces no size, so only counting tells.
 * The stage receives at most `maxBytes`: the chunk that would cross the
 * limit and everything after it are dropped, and `onExceeded` is called
 * once, so that the caller can answer 413 and abort the stage's request.
 */
export function bodyLimit(maxBytes: number, onExceeded: () => void): Transform {
  let received = 0;
  let exceeded = false;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      if (exceeded) return done();
      received += chunk.length;
      if (received > maxBytes) {
        exceeded = true;
        onExceeded();
        return done();
      }
      done(null, chunk);
    },
  });
}
