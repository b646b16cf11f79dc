/**
 * The console's side of the one typed API client (src/api/client/): a fetch
 * transport on the same origin with the session cookie and the CSRF token on
 * every change. Pages call `api` (TypedClient<paths>: bodies typed from the
 * OpenAPI document). `loose` is the same transport for a list whose query
 * is built at run time from the URL (a DataTable's page).
 */
import { ApiError, errorBodyOf, type ApiErrorBody } from '../../../src/api/client/errors.ts';
import {
  TypedClient,
  fillPath,
  itemsOf,
  queryString,
  type Page,
  type Transport,
} from '../../../src/api/client/typed.ts';
import type { paths } from '../../../src/api/client/schema.ts';

export { ApiError, itemsOf, type ApiErrorBody, type Page, type Transport };

export type ConsoleApi = TypedClient<paths>;

export interface LooseOptions {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly signal?: AbortSignal;
}

/** A list's page by a path known only at run time (a DataTable's list, its query from the URL); the caller says what the rows are. */
export interface LooseApi {
  readonly page: <T>(path: string, options?: LooseOptions) => Promise<Page<T>>;
}

/** The CSRF token of this tab's session: set at sign-in and from GET /console/session. */
export interface CsrfHolder {
  token: string | null;
}

export function fetchTransport(csrf: CsrfHolder, onUnauthorized: () => void): Transport {
  return async ({ method, path, body, signal }) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && csrf.token) headers['x-csrf-token'] = csrf.token;
    const response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text === '' ? undefined : text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    // A session that ended (expired, revoked) while the console was open: back to sign-in.
    if (response.status === 401 && !path.startsWith('/api/v1/console/')) onUnauthorized();
    return { status: response.status, header: (name) => response.headers.get(name), body: parsed };
  };
}

export function pathOf(template: string, options: LooseOptions = {}): string {
  const query = Object.fromEntries(Object.entries(options.query ?? {}).filter(([, value]) => value !== ''));
  return fillPath(template, options.params ?? {}) + queryString(query);
}

export function createLooseApi(transport: Transport): LooseApi {
  return {
    page: async <T>(template: string, options: LooseOptions = {}) => {
      const response = await transport({
        method: 'GET',
        path: pathOf(template, options),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (response.status >= 400)
        throw new ApiError(response.status, errorBodyOf(response.status, response.body));
      return { items: itemsOf<T>(response.body), nextCursor: response.header('x-next-cursor') || null };
    },
  };
}

export function createApis(transport: Transport): { api: ConsoleApi; loose: LooseApi } {
  return { api: new TypedClient<paths>(transport), loose: createLooseApi(transport) };
}

/** The message and the field an error names, for a banner or a form field. */
export function describeError(error: unknown): {
  message: string;
  field: string | null;
  status: number | null;
} {
  if (error instanceof ApiError) {
    return { message: error.body.message, field: error.body.field ?? null, status: error.status };
  }
  if (error instanceof Error) return { message: error.message, field: null, status: null };
  return { message: String(error), field: null, status: null };
}
