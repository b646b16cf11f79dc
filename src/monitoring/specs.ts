import { z } from 'zod';
import { InputError, showValue } from '../core/errors.ts';

/**
 * What a check probes, per kind, and the operator's input for HTTP checks.
 * Parsed once, at the edge; the runner reads these shapes back from checks.spec.
 */
export const checkKinds = ['http', 'database', 'backup', 'process', 'disk', 'certificate', 'ha'] as const;
export type CheckKind = (typeof checkKinds)[number];

/** A stage's built-in checks, created and removed with what they watch. */
export const builtinChecks = [
  'gateway',
  'processes',
  'process',
  'database',
  'backup',
  'disk',
  'certificate',
  'ha-members',
  'ha-replication',
  'ha-leader',
] as const;
export type BuiltinCheck = (typeof builtinChecks)[number];

export const httpMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** Through the edge as users reach the stage, or to each web process of the active release directly. */
export const httpRoutes = ['gateway', 'processes'] as const;

export interface HttpSpec {
  readonly kind: 'http';
  readonly via: (typeof httpRoutes)[number];
  readonly method: (typeof httpMethods)[number];
  /** null: the active release's health path. */
  readonly path: string | null;
  /** null: any 2xx or 3xx. */
  readonly expectStatus: number | null;
  readonly expectBody: string | null;
  readonly headers: Readonly<Record<string, string>>;
}
export interface DatabaseSpec {
  readonly kind: 'database';
}
export interface BackupSpec {
  readonly kind: 'backup';
}
/** The state of the active release's processes (all types, workers too) and their restarts. */
export interface ProcessStateSpec {
  readonly kind: 'process';
}
/** Free space where Steward keeps its data and where the stage's files are, and the stage's files quota. */
export interface DiskSpec {
  readonly kind: 'disk';
}
/** The certificates the gateway serves for the stage's hosts: trusted, and how long until they expire. */
export interface CertificateSpec {
  readonly kind: 'certificate';
}
/** What an ha stage's Patroni cluster is watched for (src/monitoring/ha-verdicts.ts). */
export const haWatches = ['members', 'replication', 'leader'] as const;
export interface HaSpec {
  readonly kind: 'ha';
  readonly watch: (typeof haWatches)[number];
}
export type CheckSpec =
  HttpSpec | DatabaseSpec | BackupSpec | ProcessStateSpec | DiskSpec | CertificateSpec | HaSpec;

export const minIntervalSeconds = 5;
export const maxIntervalSeconds = 3600;
export const defaultIntervalSeconds = 30;

const durationUnits: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** "10s", "2m", "1h", "500ms" or a number of seconds; anything else names the field and what is accepted. */
export function parseDurationSeconds(field: string, value: unknown): number {
  const text = typeof value === 'number' ? String(value) : value;
  const match = typeof text === 'string' ? /^(\d{1,7}(?:\.\d{1,3})?)(ms|s|m|h)?$/.exec(text.trim()) : null;
  if (!match) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not a duration; use a number with s, m or h, for example 30s, 5m, 1h`,
      { field },
    );
  }
  return Number(match[1]) * (durationUnits[match[2] ?? 's'] ?? 1);
}

/** An interval in whole seconds, from minIntervalSeconds to maxIntervalSeconds. */
export function parseInterval(value: unknown, field = 'interval'): number {
  const seconds = parseDurationSeconds(field, value);
  if (!Number.isInteger(seconds) || seconds < minIntervalSeconds || seconds > maxIntervalSeconds) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; use whole seconds from ${minIntervalSeconds}s to 1h (${maxIntervalSeconds}s)`,
      { field },
    );
  }
  return seconds;
}

/** A probe's timeout in ms: 100 ms to 60 s. */
export function parseTimeout(value: unknown, field = 'timeout'): number {
  const ms = Math.round(parseDurationSeconds(field, value) * 1000);
  if (ms < 100 || ms > 60_000) {
    throw new InputError(`field "${field}": ${showValue(value)} is not accepted; use 100ms to 60s`, {
      field,
    });
  }
  return ms;
}

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
/** Headers a probe must not set: they would change where it goes or how it is framed. */
const reservedHeaders = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade']);

/** The body of POST /api/v1/tenants/:tenant/stages/:stage/checks. */
export const addHttpCheckSchema = z
  .object({
    kind: z.literal('http').default('http'),
    via: z.enum(httpRoutes).default('gateway'),
    method: z.enum(httpMethods).default('GET'),
    path: z
      .string()
      .max(2000)
      .refine((v) => /^\/[\x21-\x7e]*$/.test(v), {
        error: (issue) =>
          `${showValue(issue.input)} must be a URL path starting with "/" without spaces, for example "/api/ping"`,
      }),
    expectStatus: z.number().int().min(100).max(599).optional(),
    expectBody: z.string().min(1).max(1000).optional(),
    headers: z
      .record(
        z.string().refine((v) => headerName.test(v), {
          error: (issue) => `${showValue(issue.input)} is not an HTTP header name (letters, digits, -)`,
        }),
        z
          .string()
          .max(4000)
          .refine((v) => /^[\t\x20-\x7e]*$/.test(v), {
            error: (issue) => `${showValue(issue.input)} must be printable ASCII on one line`,
          }),
      )
      .optional(),
    interval: z.union([z.string(), z.number()]).optional(),
    timeout: z.union([z.string(), z.number()]).optional(),
  })
  .strict();
export type AddHttpCheckInput = z.output<typeof addHttpCheckSchema>;

export interface ResolvedHttpCheck {
  readonly spec: HttpSpec;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
}

/** The operator's input resolved: defaults filled, intervals and headers checked. */
export function resolveHttpCheck(input: AddHttpCheckInput, defaultTimeoutMs: number): ResolvedHttpCheck {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (reservedHeaders.has(name.toLowerCase())) {
      throw new InputError(
        `field "headers.${name}": this header is set by Steward; use other headers (not ${[...reservedHeaders].join(', ')})`,
        { field: `headers.${name}` },
      );
    }
    headers[name.toLowerCase()] = value;
  }
  return {
    spec: {
      kind: 'http',
      via: input.via,
      method: input.method,
      path: input.path,
      expectStatus: input.expectStatus ?? null,
      expectBody: input.expectBody ?? null,
      headers,
    },
    intervalSeconds: input.interval === undefined ? defaultIntervalSeconds : parseInterval(input.interval),
    timeoutMs: input.timeout === undefined ? defaultTimeoutMs : parseTimeout(input.timeout),
  };
}

/** The spec of a built-in check. */
export function builtinSpec(builtin: BuiltinCheck): CheckSpec {
  switch (builtin) {
    case 'gateway':
    case 'processes':
      return {
        kind: 'http',
        via: builtin,
        method: 'GET',
        path: null,
        expectStatus: null,
        expectBody: null,
        headers: {},
      };
    case 'process':
      return { kind: 'process' };
    case 'disk':
      return { kind: 'disk' };
    case 'certificate':
      return { kind: 'certificate' };
    case 'database':
      return { kind: 'database' };
    case 'backup':
      return { kind: 'backup' };
    case 'ha-members':
      return { kind: 'ha', watch: 'members' };
    case 'ha-replication':
      return { kind: 'ha', watch: 'replication' };
    case 'ha-leader':
      return { kind: 'ha', watch: 'leader' };
  }
}

/** How a check's target reads in listings: "GET /api/ping via gateway", "database as the stage role". */
export function describeTarget(spec: CheckSpec): string {
  switch (spec.kind) {
    case 'http':
      return `${spec.method} ${spec.path ?? '(health path)'} via ${spec.via}${spec.expectStatus ? ` expect ${spec.expectStatus}` : ''}${spec.expectBody ? ` body ~ ${JSON.stringify(spec.expectBody)}` : ''}`;
    case 'database':
      return 'database, as the stage role';
    case 'backup':
      return 'newest good backup against the policy';
    case 'process':
      return "the active release's processes: running, healthy, not restarting";
    case 'disk':
      return 'free space of the data and files directories, and the files quota';
    case 'certificate':
      return "certificates the gateway serves for the stage's hosts";
    case 'ha':
      return {
        members: "every member of the stage's Patroni cluster answers and runs",
        replication: 'replicas stream from the leader, on its timeline, within the lag bound',
        leader: 'one leader, and no other member running as primary (split brain)',
      }[spec.watch];
  }
}
