import type { Clock } from '../../src/core/clock.ts';
import type { TestSteward } from '../harness/steward.ts';

/** A clock the test moves by hand; it starts at the real time. */
export class ManualClock implements Clock {
  #at = Date.now();
  now(): Date {
    return new Date(this.#at);
  }
  advance(seconds: number): void {
    this.#at += seconds * 1000;
  }
}

export interface Reply {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}

/** Like t.request, but from a chosen client address (the login throttle keys on it). */
export async function send(
  t: TestSteward,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  options: { body?: unknown; token?: string | null; address?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const token = options.token === undefined ? t.token : options.token;
  const response = await t.api.inject({
    method,
    url,
    remoteAddress: options.address ?? '127.0.0.1',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}),
  });
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    body = undefined;
  }
  return { status: response.statusCode, body, headers: response.headers };
}

export function login(t: TestSteward, body: Record<string, unknown>, address = '127.0.0.1'): Promise<Reply> {
  return send(t, 'POST', '/api/v1/auth/login', { body, token: null, address });
}

/** Adds an operator with a known password (through the API, as the owner) and returns it. */
export async function addOperator(
  t: TestSteward,
  username: string,
  role: 'owner' | 'operator' | 'auditor' = 'operator',
  password = `${username}-password-123`,
): Promise<{ username: string; password: string }> {
  const res = await t.request('POST', '/api/v1/operators', { username, role, password });
  if (res.status !== 201) throw new Error(`adding ${username} failed: ${res.text}`);
  return { username, password };
}

/** Logs in (from a fresh address, so the throttle of other tests stays out of the way). */
export async function tokenFor(
  t: TestSteward,
  who: { username: string; password: string },
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await login(t, { username: who.username, password: who.password, ...extra }, uniqueAddress());
  if (res.status !== 200) throw new Error(`login of ${who.username} failed: ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}

let nextAddress = 1;
/** A client address no other request in this file used. */
export function uniqueAddress(): string {
  const n = nextAddress++;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export interface AuditRow {
  seq: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  address: string | null;
  details: Record<string, unknown>;
}

export function auditEvents(t: TestSteward, action: string, target: string): Promise<AuditRow[]> {
  return t.query<AuditRow>(
    'select seq, actor, action, target, outcome, address, details from audit_events where action = $1 and target = $2 order by seq',
    [action, target],
    t.controlDatabase,
  );
}
