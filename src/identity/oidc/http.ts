import { request } from 'node:https';
import { rootCertificates } from 'node:tls';

/**
 * Steward's requests to identity providers and Microsoft Graph: HTTPS only,
 * with the system's roots plus the CAs the config names (`identity.idpCaFile`:
 * a private IdP, or the test CA), never without certificate checks; bounded
 * in time and size. It has the shape of openid-client's `customFetch`.
 */
export type IdpFetch = (
  url: string,
  options: {
    readonly method: string;
    readonly headers: Record<string, string>;
    readonly body?: unknown;
    readonly signal?: AbortSignal | null | undefined;
    readonly redirect?: string;
  },
) => Promise<Response>;

export interface IdpFetchOptions {
  /** PEM certificates trusted besides the system's roots. */
  readonly extraCaPem?: string | undefined;
  readonly timeoutMs?: number;
  /** Responses larger than this fail (discovery, keys and tokens are small). */
  readonly maxBytes?: number;
}

function bodyOf(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof URLSearchParams) return Buffer.from(body.toString(), 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(new Uint8Array(body));
  throw new TypeError('a request to an identity provider has a body of an unsupported type');
}

export function idpFetch(options: IdpFetchOptions = {}): IdpFetch {
  const ca = options.extraCaPem ? [...rootCertificates, options.extraCaPem] : undefined;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'https:') {
        reject(new Error(`identity provider URLs must be https: ${target.origin}`));
        return;
      }
      const body = bodyOf(init.body);
      const headers: Record<string, string> = { ...init.headers };
      if (body) headers['content-length'] = String(body.length);
      const req = request(target, {
        method: init.method,
        headers,
        ...(ca ? { ca } : {}),
        timeout: timeoutMs,
      });
      const abort = (): void =>
        void req.destroy(new Error('the request to the identity provider was aborted'));
      init.signal?.addEventListener('abort', abort, { once: true });
      req.on('timeout', () =>
        req.destroy(new Error(`${target.origin} did not answer within ${timeoutMs} ms`)),
      );
      req.on('error', (error) => {
        init.signal?.removeEventListener('abort', abort);
        reject(error);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new Error(`${target.origin} answered with more than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          init.signal?.removeEventListener('abort', abort);
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
          }
          const status = res.statusCode ?? 502;
          const noBody = status === 204 || status === 304 || init.method === 'HEAD';
          resolve(
            new Response(noBody ? null : Buffer.concat(chunks), {
              status,
              statusText: res.statusMessage ?? '',
              headers: responseHeaders,
            }),
          );
        });
        res.on('error', reject);
      });
      req.end(body);
    });
}
