import { ApiError, errorBodyOf } from './errors.ts';

/**
 * The one typed API client, shared by the CLI and the console. Its types come
 * from the OpenAPI document (`npm run api:generate` writes `paths` into
 * schema.ts); how bytes travel is a Transport: Node https with a bearer
 * token for the CLI, fetch with the session cookie for the console. No Node
 * imports here.
 */
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface TransportRequest {
  readonly method: Uppercase<Method>;
  /** The path with its query string, e.g. `/api/v1/tenants?limit=50`. */
  readonly path: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
}

export interface TransportResponse {
  readonly status: number;
  header(name: string): string | null;
  /** The parsed JSON body (undefined when empty). */
  readonly body: unknown;
}

export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

/** The paths of `P` that have an operation for `M`. */
export type PathsWith<P, M extends Method> = {
  [K in keyof P]: P[K] extends { [m in M]: infer O } ? ([O] extends [undefined] ? never : K) : never;
}[keyof P] &
  string;

type Operation<P, Path extends keyof P, M extends Method> = P[Path] extends { [m in M]: infer O } ? O : never;

type JsonContent<R> = R extends { content: { 'application/json': infer B } } ? B : unknown;
type SuccessStatus = 200 | 201 | 202 | 204;
/** The JSON body of an operation's success response (unknown where the route declares none). */
export type Success<O> = O extends { responses: infer R }
  ? JsonContent<R[Extract<keyof R, SuccessStatus>]>
  : unknown;
/** What `path` answers to `method`: the type of a view, for code that hands one around (`ResponseBody<paths, '/api/v1/deployments/{id}'>`). */
export type ResponseBody<P, Path extends keyof P, M extends Method = 'get'> = Success<Operation<P, Path, M>>;
/** The JSON body `path` takes with `method`. */
export type RequestBody<P, Path extends keyof P, M extends Method> = BodyOf<Operation<P, Path, M>>;

type PathParams<O> = O extends { parameters: { path: infer X } } ? X : never;
type QueryOf<O> = O extends { parameters: { query?: infer X } } ? Exclude<X, undefined> : never;
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer X } } } ? X : never;

/** A body may be built from readonly data (a service's own types, `as const`): the client only reads it. */
type Frozen<T> = T extends readonly (infer E)[]
  ? readonly Frozen<E>[]
  : T extends object
    ? { readonly [K in keyof T]: Frozen<T[K]> }
    : T;

export type RequestOptions<O> = ([PathParams<O>] extends [never]
  ? { readonly params?: undefined }
  : { readonly params: PathParams<O> }) & {
  readonly query?: [QueryOf<O>] extends [never] ? undefined : Partial<QueryOf<O>>;
  readonly body?: [BodyOf<O>] extends [never] ? undefined : Frozen<BodyOf<O>>;
  readonly signal?: AbortSignal;
};

type Args<O> = [PathParams<O>] extends [never] ? [options?: RequestOptions<O>] : [options: RequestOptions<O>];

/** One page of a list: its rows and the cursor of the next page (null on the last). */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** A list's row: the element of its body, or of the one array its body object holds (`{ tenants: [...] }`). */
type Item<O> =
  Success<O> extends readonly (infer I)[]
    ? I
    : Success<O> extends Record<string, unknown>
      ? ArrayValue<Success<O>[keyof Success<O>]>
      : never;
type ArrayValue<V> = V extends readonly (infer I)[] ? I : never;
/** A list's row (`ListItem<paths, '/api/v1/tenants'>`): what `page()` and `all()` of that path yield. */
export type ListItem<P, Path extends keyof P> = Item<Operation<P, Path, 'get'>>;

/**
 * A page's rows: the body itself when it is an array, else the one array a
 * list's body object holds (`{ tenants: [...] }`, the lists' shape before
 * pagination, which they keep); none when there is no such array.
 */
export function itemsOf<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body !== null && typeof body === 'object') {
    const arrays = Object.values(body).filter((v) => Array.isArray(v));
    if (arrays.length === 1) return arrays[0] as T[];
  }
  return [];
}

export class TypedClient<P> {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  get<Path extends PathsWith<P, 'get'>>(
    path: Path,
    ...[options]: Args<Operation<P, Path, 'get'>>
  ): Promise<Success<Operation<P, Path, 'get'>>> {
    return this.#call('GET', path, options).then((response) => response.body as never);
  }
  post<Path extends PathsWith<P, 'post'>>(
    path: Path,
    ...[options]: Args<Operation<P, Path, 'post'>>
  ): Promise<Success<Operation<P, Path, 'post'>>> {
    return this.#call('POST', path, options, {}).then((response) => response.body as never);
  }
  put<Path extends PathsWith<P, 'put'>>(
    path: Path,
    ...[options]: Args<Operation<P, Path, 'put'>>
  ): Promise<Success<Operation<P, Path, 'put'>>> {
    return this.#call('PUT', path, options, {}).then((response) => response.body as never);
  }
  patch<Path extends PathsWith<P, 'patch'>>(
    path: Path,
    ...[options]: Args<Operation<P, Path, 'patch'>>
  ): Promise<Success<Operation<P, Path, 'patch'>>> {
    return this.#call('PATCH', path, options, {}).then((response) => response.body as never);
  }
  delete<Path extends PathsWith<P, 'delete'>>(
    path: Path,
    ...[options]: Args<Operation<P, Path, 'delete'>>
  ): Promise<Success<Operation<P, Path, 'delete'>>> {
    return this.#call('DELETE', path, options).then((response) => response.body as never);
  }

  /** One page of a list endpoint; the next page's cursor comes from the `x-next-cursor` header. */
  async page<Path extends PathsWith<P, 'get'>>(
    path: Path,
    ...[options]: Args<Operation<P, Path, 'get'>>
  ): Promise<Page<Item<Operation<P, Path, 'get'>>>> {
    const response = await this.#call('GET', path, options);
    const items = itemsOf<Item<Operation<P, Path, 'get'>>>(response.body);
    return { items, nextCursor: response.header('x-next-cursor') || null };
  }

  /** Every row of a list endpoint, page after page. */
  async all<Path extends PathsWith<P, 'get'>>(
    path: Path,
    ...[options]: Args<Operation<P, Path, 'get'>>
  ): Promise<Item<Operation<P, Path, 'get'>>[]> {
    const rows: Item<Operation<P, Path, 'get'>>[] = [];
    const base = (options ?? {}) as {
      params?: unknown;
      query?: Record<string, unknown>;
      signal?: AbortSignal;
    };
    let cursor: string | null = null;
    do {
      const query: Record<string, unknown> = { ...base.query, ...(cursor ? { cursor } : {}) };
      const response = await this.#call('GET', path, { ...base, query });
      rows.push(...itemsOf<Item<Operation<P, Path, 'get'>>>(response.body));
      const next = response.header('x-next-cursor') || null;
      // A server that repeats a cursor would loop forever; stop rather than spin.
      cursor = next !== null && next !== cursor ? next : null;
    } while (cursor !== null);
    return rows;
  }

  async #call(
    method: Uppercase<Method>,
    template: string,
    options: { params?: unknown; query?: unknown; body?: unknown; signal?: AbortSignal } | undefined,
    defaultBody?: unknown,
  ): Promise<TransportResponse> {
    const path =
      fillPath(template, (options?.params ?? {}) as Record<string, unknown>) +
      queryString((options?.query ?? {}) as Record<string, unknown>);
    const body = options?.body ?? defaultBody;
    const response = await this.#transport({
      method,
      path,
      ...(body === undefined ? {} : { body }),
      ...(options?.signal ? { signal: options.signal } : {}),
    });
    if (response.status >= 400)
      throw new ApiError(response.status, errorBodyOf(response.status, response.body));
    return response;
  }
}

/** `/api/v1/tenants/{tenant}` with `{ tenant: 'acme' }` → `/api/v1/tenants/acme`. */
export function fillPath(template: string, params: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === null) throw new Error(`path ${template} needs parameter ${name}`);
    return encodeURIComponent(scalar(value));
  });
}

/** `?a=1&b=x` from an object; undefined values are left out, arrays repeat their key. */
export function queryString(query: Readonly<Record<string, unknown>>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    for (const one of Array.isArray(value) ? (value as unknown[]) : [value]) {
      search.append(key, scalar(one));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`a path or query value must be a string, number or boolean, not ${typeof value}`);
}
