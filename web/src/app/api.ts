/**
 * The console's API transport: fetch on the same origin with the session
 * cookie, and the CSRF token on every change. Interim client until the typed
 * client (src/api/client/typed.ts) lands on main: the same calls
 * (get/post/put/patch/delete/page/all with path templates and params).
 */

export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly [key: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;
  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.status = status;
    this.body = body;
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface ConsoleApi {
  get<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  post<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  put<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  patch<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  delete<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  page<T = unknown>(path: string, options?: RequestOptions): Promise<Page<T>>;
  all<T = unknown>(path: string, options?: RequestOptions): Promise<T[]>;
}

export interface TransportRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

export interface TransportResponse {
  readonly status: number;
  header(name: string): string | null;
  readonly body: unknown;
}

export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

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
    let parsed: unknown = text;
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

export function pathOf(template: string, options: RequestOptions = {}): string {
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = options.params?.[name];
    if (value === undefined) throw new Error(`path parameter ${name} missing for ${template}`);
    return encodeURIComponent(value);
  });
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== '') query.set(key, String(value));
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

function asError(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object' && typeof (body as ApiErrorBody).message === 'string') {
    return new ApiError(status, body as ApiErrorBody);
  }
  return new ApiError(status, {
    code: status >= 500 ? 'internal' : 'input',
    message: typeof body === 'string' && body !== '' ? body.slice(0, 300) : `HTTP ${status}`,
  });
}

/** A list's items: the body is the page (an array), or an object holding one array (older routes). */
export function itemsOf<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === 'object') {
    const arrays = Object.values(body).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as T[];
  }
  return [];
}

export function createApi(transport: Transport): ConsoleApi {
  const call = async (method: string, template: string, options: RequestOptions = {}) => {
    const response = await transport({
      method,
      path: pathOf(template, options),
      body: options.body,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (response.status < 200 || response.status > 299) throw asError(response.status, response.body);
    return response;
  };
  const page = async <T>(template: string, options: RequestOptions = {}): Promise<Page<T>> => {
    const response = await call('GET', template, options);
    return { items: itemsOf<T>(response.body), nextCursor: response.header('x-next-cursor') };
  };
  return {
    get: async (path, options) => (await call('GET', path, options)).body as never,
    post: async (path, options) => (await call('POST', path, options)).body as never,
    put: async (path, options) => (await call('PUT', path, options)).body as never,
    patch: async (path, options) => (await call('PATCH', path, options)).body as never,
    delete: async (path, options) => (await call('DELETE', path, options)).body as never,
    page,
    all: async <T>(template: string, options: RequestOptions = {}) => {
      const items: T[] = [];
      let cursor: string | null = null;
      do {
        const next: Page<T> = await page<T>(template, {
          ...options,
          query: { ...options.query, ...(cursor ? { cursor } : {}) },
        });
        items.push(...next.items);
        cursor = next.nextCursor;
      } while (cursor);
      return items;
    },
  };
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
