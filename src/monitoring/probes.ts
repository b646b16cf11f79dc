import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import pg from 'pg';
import { stageRoleSession } from '../databases/privileged.ts';
import type { CertificateSeen, HttpObservation } from './verdicts.ts';

/**
 * Probe drivers: the side effects of checks. Each never rejects: what went
 * wrong becomes an observation. No secret reaches an observation's text.
 */
export interface HttpTarget {
  readonly host: string;
  readonly port: number;
  /** TLS to the gateway: the CA to trust and the name to ask for (SNI and Host). */
  readonly tls?: { readonly ca: string; readonly servername: string };
  /** The Host header (default: host:port). */
  readonly hostHeader?: string;
}

export interface HttpProbe {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Enough of a body to find an expected substring; the rest is not read. */
const maxBodyBytes = 64 * 1024;

/**
 * Connections kept open between probes, one pool per target: a check every
 * few seconds need not pay a TCP and TLS handshake each time (the
 * certificate check still makes a full one). Sockets idle longer than
 * `idleMs` are closed first, before a server's own keep-alive timeout would.
 */
export interface ProbeAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
}

export function probeAgents(maxSocketsPerTarget: number, idleMs = 4_000): ProbeAgents {
  const options = { keepAlive: true, maxSockets: maxSocketsPerTarget, maxFreeSockets: maxSocketsPerTarget };
  const agents = { http: new HttpAgent(options), https: new HttpsAgent(options) };
  const timed = new WeakSet<Socket>();
  for (const agent of [agents.http, agents.https]) {
    // A free socket's idle timer; a socket in use has the probe's own (requestOnce clears this one).
    agent.on('free', (socket: Socket) => {
      if (!timed.has(socket)) socket.on('timeout', () => socket.destroy());
      timed.add(socket);
      socket.setTimeout(idleMs);
    });
  }
  return agents;
}

/**
 * One HTTP probe. With `agents`, over a kept-open connection; a request that
 * fails on a reused connection (the server closed it as it was reused) is
 * retried once on a new one, so a keep-alive race is never a failed check.
 */
export async function probeHttpTarget(
  target: HttpTarget,
  probe: HttpProbe,
  agents?: ProbeAgents,
): Promise<HttpObservation> {
  const started = performance.now();
  const first = await requestOnce(target, probe, agents, probe.timeoutMs);
  if (!first.reusedSocketFailed) return first.seen;
  const left = probe.timeoutMs - (performance.now() - started);
  if (left <= 0) return first.seen;
  return (await requestOnce(target, probe, undefined, left)).seen;
}

function requestOnce(
  target: HttpTarget,
  probe: HttpProbe,
  agents: ProbeAgents | undefined,
  timeoutMs: number,
): Promise<{ seen: HttpObservation; reusedSocketFailed: boolean }> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (seen: HttpObservation, keep = false, reusedSocketFailed = false): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A response read to its end leaves its socket to the agent; anything else closes it.
      if (!keep) req.destroy();
      resolve({ seen, reusedSocketFailed });
    };
    const options = {
      host: target.host,
      port: target.port,
      path: probe.path,
      method: probe.method,
      agent: agents ? (target.tls ? agents.https : agents.http) : (false as const),
      headers: {
        'user-agent': 'steward-check',
        ...probe.headers,
        host: target.hostHeader ?? `${target.host}:${target.port}`,
        ...(agents ? {} : { connection: 'close' }),
      },
    };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      const seen = (): HttpObservation => ({
        kind: 'answer',
        status: res.statusCode ?? 0,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.on('data', (chunk: Buffer) => {
        if (bytes >= maxBodyBytes) return finish(seen());
        chunks.push(chunk.subarray(0, maxBodyBytes - bytes));
        bytes += chunk.length;
      });
      res.on('end', () => finish(seen(), true));
      res.on('error', (error: NodeJS.ErrnoException) =>
        finish({ kind: 'error', reason: error.code ?? error.message }),
      );
    };
    const req = target.tls
      ? httpsRequest({ ...options, ca: target.tls.ca, servername: target.tls.servername }, onResponse)
      : httpRequest(options, onResponse);
    const timer = setTimeout(
      () => finish({ kind: 'error', reason: `no answer within ${probe.timeoutMs} ms` }),
      timeoutMs,
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ kind: 'error', reason: error.code ?? error.message }, false, req.reusedSocket),
    );
    // A reused socket's idle timer (probeAgents) must not cut this probe short: its own timer does.
    if (agents) req.on('socket', (socket: Socket) => socket.setTimeout(0));
    req.end();
  });
}

export type DatabaseObservation = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Connects as the stage's own role (its DATABASE_URL, never a superuser) and
 * runs `select 1`: the database is reachable the way the app reaches it.
 */
export async function probeStageDatabase(
  databaseUrl: string,
  timeoutMs: number,
): Promise<DatabaseObservation> {
  const client = new pg.Client({
    ...stageRoleSession(databaseUrl),
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: 'steward-check',
  });
  // A server that goes away mid-probe must not crash Steward.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return { ok: true };
  } catch (error) {
    // The code or message only: pg's messages name the role, never the password.
    const e = error as { code?: string; message?: string };
    return { ok: false, reason: e.code ? `${e.code}: ${e.message ?? ''}` : (e.message ?? 'failed') };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A TLS handshake with the gateway for one host name (SNI): the certificate
 * it serves, verified against the CA given, and when it expires. No request is sent.
 */
export function probeCertificate(
  target: { readonly host: string; readonly port: number; readonly ca: string },
  servername: string,
  timeoutMs: number,
): Promise<CertificateSeen> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (seen: CertificateSeen): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(seen);
    };
    const socket = tlsConnect(
      {
        host: target.host,
        port: target.port,
        servername,
        ca: target.ca,
        rejectUnauthorized: false,
        // The name asked for, not the address dialled.
        checkServerIdentity: (_address, cert) => checkServerIdentity(servername, cert),
      },
      () => {
        const cert = socket.getPeerCertificate();
        if (!socket.authorized) {
          finish({ host: servername, error: `not trusted: ${String(socket.authorizationError)}` });
        } else if (!cert.valid_to) {
          finish({ host: servername, error: 'no certificate' });
        } else {
          finish({ host: servername, notAfter: new Date(cert.valid_to).toISOString() });
        }
      },
    );
    const timer = setTimeout(
      () => finish({ host: servername, error: `no handshake within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish({ host: servername, error: error.code ?? error.message }),
    );
  });
}
