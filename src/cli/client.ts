import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, errorBodyOf } from '../api/client/errors.ts';
import type { paths } from '../api/client/schema.ts';
import { TypedClient, type TransportRequest, type TransportResponse } from '../api/client/typed.ts';

export { ApiError } from '../api/client/errors.ts';

export interface Connection {
  readonly apiUrl: string;
  readonly ca?: string | undefined;
  readonly token?: string | undefined;
}

export interface ConnectionSources {
  readonly apiUrl?: string | undefined;
  readonly token?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly sessionFile?: string | undefined;
}

/**
 * Finds where the API is and which token to use: flags and env first; then a
 * login session, unless a data dir was named explicitly, whose client.json
 * then wins; then client.json in ./.steward.
 */
export function resolveConnection(sources: ConnectionSources): Connection {
  const dataDir = resolve(sources.dataDir ?? '.steward');
  const clientPath = join(dataDir, 'client.json');
  const local = existsSync(clientPath)
    ? (JSON.parse(readFileSync(clientPath, 'utf8')) as Connection)
    : undefined;
  const loggedIn =
    sources.sessionFile && existsSync(sources.sessionFile)
      ? (JSON.parse(readFileSync(sources.sessionFile, 'utf8')) as Connection)
      : undefined;
  // A session belongs to the API it logged in to; a named data dir's own file points elsewhere.
  const session = sources.dataDir && local && loggedIn?.apiUrl !== local.apiUrl ? undefined : loggedIn;
  const apiUrl = sources.apiUrl ?? session?.apiUrl ?? local?.apiUrl;
  if (!apiUrl) {
    throw new Error(
      `no Steward API found: ${clientPath} does not exist. Start Steward with "npm start" (or "steward up"), pass --data-dir, or set STEWARD_API_URL and STEWARD_TOKEN`,
    );
  }
  const ca = session?.ca ?? local?.ca;
  const token = sources.token ?? session?.token ?? local?.token;
  return { apiUrl, ...(ca ? { ca } : {}), ...(token ? { token } : {}) };
}

/**
 * The CLI's side of the API client: `api` is the typed client (src/api/client/)
 * over Node https with the connection's CA and token; streams and uploads
 * stay here.
 */
export class ApiClient {
  readonly connection: Connection;
  readonly api: TypedClient<paths>;

  constructor(connection: Connection) {
    this.connection = connection;
    this.api = new TypedClient<paths>((request) => this.transport(request));
  }

  /** The typed client's transport: one JSON exchange; it never rejects on an error status. */
  async transport(request: TransportRequest): Promise<TransportResponse> {
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    const { status, headers, body } = await this.#exchange(request.method, request.path, {
      ...(payload ? { payload, contentType: 'application/json' } : {}),
    });
    return {
      status,
      body,
      header: (name) => {
        const value = headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    };
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
  put<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  /**
   * GETs a response of NDJSON lines (logs) and hands each parsed line over as
   * it arrives. Resolves when the server ends the response or `signal`
   * aborts; no timeout while lines are being followed.
   */
  streamLines<T>(path: string, onLine: (value: T) => void, signal?: AbortSignal): Promise<void> {
    const url = new URL(path, this.connection.apiUrl);
    const headers: Record<string, string> = { accept: 'application/x-ndjson' };
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<void>((resolvePromise, reject) => {
      if (signal?.aborted) return resolvePromise();
      const req = send(
        url,
        { method: 'GET', headers, ...(this.connection.ca ? { ca: this.connection.ca } : {}) },
        (res) => {
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let partial = '';
          res.on('data', (chunk: Buffer) => {
            if (status >= 400) return void chunks.push(chunk);
            const parts = (partial + chunk.toString('utf8')).split('\n');
            partial = parts.pop() ?? '';
            for (const part of parts) if (part.trim()) onLine(JSON.parse(part) as T);
          });
          res.on('end', () => {
            if (status >= 400) {
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown = text;
              try {
                body = JSON.parse(text);
              } catch {
                // Not JSON: errorBodyOf keeps the start of the text.
              }
              return reject(new ApiError(status, errorBodyOf(status, body)));
            }
            if (partial.trim()) onLine(JSON.parse(partial) as T);
            resolvePromise();
          });
          res.on('error', (error) => (signal?.aborted ? resolvePromise() : reject(error)));
        },
      );
      signal?.addEventListener('abort', () => {
        req.destroy();
        resolvePromise();
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (signal?.aborted) resolvePromise();
        else if (error.code === 'ECONNREFUSED') {
          reject(
            new Error(`cannot reach the Steward API at ${url.origin}: is Steward running ("npm start")?`),
          );
        } else reject(error);
      });
      req.end();
    });
  }

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return this.send<T>(method, path, payload ? { payload, contentType: 'application/json' } : {});
  }

  /**
   * Sends raw bytes (a release archive, say), reporting how many were
   * written; waits longer for the answer, since the server may build first.
   */
  upload<T>(
    path: string,
    payload: Buffer,
    contentType: string,
    onProgress?: (sent: number, total: number) => void,
  ): Promise<T> {
    return this.send<T>('POST', path, { payload, contentType, onProgress, timeoutMs: 20 * 60_000 });
  }

  async send<T>(method: string, path: string, options: SendOptions): Promise<T> {
    const { status, body } = await this.#exchange(method, path, options);
    if (status >= 400) throw new ApiError(status, errorBodyOf(status, body));
    return body as T;
  }

  #exchange(
    method: string,
    path: string,
    options: SendOptions,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: unknown }> {
    const url = new URL(path, this.connection.apiUrl);
    const { payload } = options;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolvePromise, reject) => {
      const req = send(
        url,
        { method, headers, ...(this.connection.ca ? { ca: this.connection.ca } : {}), timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              parsed = text;
            }
            resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs / 1000} s`)),
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED') {
          reject(
            new Error(`cannot reach the Steward API at ${url.origin}: is Steward running ("npm start")?`),
          );
        } else reject(error);
      });
      if (!payload || !options.onProgress) {
        req.end(payload);
        return;
      }
      // In slices, so progress follows what the socket actually took.
      const report = options.onProgress;
      const slice = 256 * 1024;
      let sent = 0;
      const pump = (): void => {
        while (sent < payload.length) {
          const chunk = payload.subarray(sent, sent + slice);
          sent += chunk.length;
          report(sent, payload.length);
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
  }
}

interface SendOptions {
  payload?: Buffer;
  contentType?: string;
  onProgress?: ((sent: number, total: number) => void) | undefined;
  timeoutMs?: number;
}
