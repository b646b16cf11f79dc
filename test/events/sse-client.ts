import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One server-sent event as a browser's EventSource sees it, or a comment (`: keepalive`). */
export interface Frame {
  readonly event: string;
  readonly data: any;
  readonly comment?: string;
  readonly retry?: number;
  /** performance.now() when it arrived. */
  readonly at: number;
}

export interface SseClient {
  readonly status: number;
  readonly frames: Frame[];
  readonly response: IncomingMessage;
  /** The first frame (already received or still to come) that matches, or a rejection after timeoutMs. */
  next(match: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Resolves when the server ends the stream or cuts it off. */
  readonly ended: Promise<void>;
  close(): void;
}

/**
 * A reader of GET /api/v1/events over a real HTTP(S) connection, parsing
 * frames as EventSource does (event, data, retry, comments).
 */
export function openEvents(
  url: string,
  token: string,
  options: { readonly ca?: string } = {},
): Promise<SseClient> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        const frames: Frame[] = [];
        const waiters = new Set<{ match: (f: Frame) => boolean; done: (f: Frame) => void }>();
        let buffer = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          const blocks = (buffer + chunk).split('\n\n');
          // The last piece is a frame still arriving (or empty).
          buffer = blocks.pop() ?? '';
          for (const block of blocks) {
            const frame = parseFrame(block);
            frames.push(frame);
            for (const waiter of waiters) {
              if (waiter.match(frame)) {
                waiters.delete(waiter);
                waiter.done(frame);
              }
            }
          }
        });
        const ended = new Promise<void>((r) => {
          response.once('close', r);
          response.once('error', () => r());
          req.once('error', () => r());
        });
        resolve({
          status: response.statusCode ?? 0,
          frames,
          response,
          ended,
          next(match, timeoutMs = 5000) {
            const found = frames.find(match);
            if (found) return Promise.resolve(found);
            return new Promise((done, fail) => {
              const waiter = {
                match,
                done: (f: Frame) => {
                  clearTimeout(timer);
                  done(f);
                },
              };
              const timer = setTimeout(() => {
                waiters.delete(waiter);
                fail(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(frames)}`));
              }, timeoutMs);
              waiters.add(waiter);
            });
          },
          close: () => req.destroy(),
        });
      },
    );
    req.once('error', reject);
    req.end();
  });
}

function parseFrame(block: string): Frame {
  let event = 'message';
  const data: string[] = [];
  let comment: string | undefined;
  let retry: number | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) comment = line.slice(1).trim();
    else if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
    else if (line.startsWith('retry: ')) retry = Number(line.slice(7));
  }
  const text = data.join('\n');
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: kept as text.
  }
  return {
    event: comment !== undefined ? 'comment' : retry !== undefined && !data.length ? 'retry' : event,
    data: parsed,
    at: performance.now(),
    ...(comment !== undefined ? { comment } : {}),
    ...(retry !== undefined ? { retry } : {}),
  };
}
