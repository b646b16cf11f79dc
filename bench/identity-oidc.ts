/**
 * bench/identity-oidc: the OIDC sign-in round trip through a real `steward
 * up` (HAProxy at the edge) against oidc-provider on loopback HTTPS, as a
 * browser makes it, BENCH_SIGNINS (50) times after BENCH_WARMUP (5):
 *
 *   GET /.steward/auth/login (the CSRF token) -> POST /.steward/auth/oidc/<name>
 *   -> the IdP's authorize, sign-in and resume redirects (an account that
 *   signs in without a page) -> GET /.steward/auth/callback (the code
 *   exchanged, the ID token verified, the join, the login log) -> the session
 *   cookie and the redirect back to the app (the sample app, deployed).
 *
 * Prints JSON: p50/p95/max of the whole round trip, of Steward's part (the
 * three requests to the stage's host) and of the IdP's (the anchor: what any
 * relying party would wait for). The first sign-in provisions the user; the
 * rest find it through its joined subject.
 *
 * Usage: npm run bench:identity-oidc  (BENCH_SIGNINS=50, BENCH_WARMUP=5)
 * id-edge's bench/identity.ts runs it beside the local-user round trip.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idpFetch } from '../src/identity/oidc/index.ts';
import { createCa } from '../src/tls/ca.ts';
import { startTestIdp } from '../test/harness/oidc-provider.ts';
import {
  createTenant,
  deploy,
  ledgerDir,
  log,
  percentile,
  round,
  uploadRelease,
  withSteward,
} from './support.ts';

const signIns = Number(process.env.BENCH_SIGNINS ?? 50);
const warmup = Number(process.env.BENCH_WARMUP ?? 5);

interface Answer {
  readonly status: number;
  readonly location: string | undefined;
  readonly cookies: readonly string[];
  readonly body: string;
}

/** One request to the edge for `host`, trusting Steward's CA. */
function edge(
  port: number,
  ca: string,
  host: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: host,
        ca,
        method,
        path,
        headers: { host: `${host}:${port}`, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            cookies: res.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pair = (setCookie: string): [string, string] => {
  const first = setCookie.split(';')[0] ?? '';
  const eq = first.indexOf('=');
  return [first.slice(0, eq), first.slice(eq + 1)];
};

const stats = (values: readonly number[]) => ({
  p50: round(percentile(values, 50), 2),
  p95: round(percentile(values, 95), 2),
  max: round(Math.max(...values), 2),
});

const dir = await mkdtemp(join(tmpdir(), 'bench-oidc-'));
const ca = await createCa('Bench IdP CA');
const caFile = join(dir, 'idp-ca.pem');
await writeFile(caFile, ca.certPem);
const tenant = 'acme';
const host = `prod.${tenant}.localhost`;

await withSteward(
  'identity-oidc',
  async (s, onCleanup) => {
    const gatewayUrl = s.running.gatewayUrl;
    if (!gatewayUrl) throw new Error('bench/identity-oidc needs the data plane');
    const port = Number(new URL(gatewayUrl).port || 443);
    const idp = await startTestIdp({
      ca,
      clients: [
        {
          clientId: 'bench',
          clientSecret: 'bench-client-secret',
          redirectUris: [`https://${host}:${port}/.steward/auth/callback`],
        },
      ],
      accounts: [{ id: 'bench-user', claims: { email: 'bench@acme.example', email_verified: true } }],
    });
    onCleanup(() => idp.close());
    await uploadRelease(s.api, ledgerDir, '1.0.0');
    await createTenant(s.api, tenant, ['prod']);
    // The stage's host is routed (and has its certificate) once a release serves it.
    await deploy(s.api, tenant, 'prod', '1.0.0');
    await s.api.patch(`/api/v1/tenants/${tenant}/identity`, { stage: 'prod', signIn: 'required' });
    await s.api.post(`/api/v1/tenants/${tenant}/identity/oidc`, {
      name: 'bench',
      kind: 'generic',
      issuer: idp.issuer,
      clientId: 'bench',
      clientSecret: 'bench-client-secret',
      provision: true,
    });
    const atIdp = idpFetch({ extraCaPem: ca.certPem });
    const origin = `https://${host}:${port}`;

    const signIn = async (): Promise<{ total: number; steward: number; idpMs: number }> => {
      let steward = 0;
      let idpMs = 0;
      const timed = async <T>(part: 'steward' | 'idp', work: () => Promise<T>): Promise<T> => {
        const start = performance.now();
        try {
          return await work();
        } finally {
          if (part === 'steward') steward += performance.now() - start;
          else idpMs += performance.now() - start;
        }
      };
      const started = performance.now();
      const login = await timed('steward', () =>
        edge(port, s.running.caPem, host, 'GET', '/.steward/auth/login?rd=%2F', {}),
      );
      const csrf = login.cookies.map(pair).find(([name]) => name === '__Host-steward-csrf')?.[1] ?? '';
      const form = new URLSearchParams({ csrf, rd: '/' }).toString();
      const begun = await timed('steward', () =>
        edge(
          port,
          s.running.caPem,
          host,
          'POST',
          '/.steward/auth/oidc/bench',
          {
            origin,
            cookie: `__Host-steward-csrf=${csrf}`,
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(Buffer.byteLength(form)),
          },
          form,
        ),
      );
      const flow = begun.cookies.map(pair).find(([name]) => name === '__Host-steward-oidc')?.[1];
      if (begun.status !== 303 || !begun.location || !flow)
        throw new Error(`sign-in start answered ${begun.status}`);
      idp.login('bench-user');
      const jar = new Map<string, string>();
      let next = begun.location;
      for (let hop = 0; !next.startsWith(origin); hop++) {
        if (hop > 10) throw new Error('too many redirects at the IdP');
        const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
        const answer = await timed('idp', () =>
          atIdp(next, { method: 'GET', headers: cookie ? { cookie } : {} }),
        );
        for (const line of answer.headers.getSetCookie()) jar.set(...pair(line));
        const location = answer.headers.get('location');
        if (!location) throw new Error(`the IdP answered ${answer.status}`);
        next = new URL(location, next).href;
      }
      const callback = new URL(next);
      const done = await timed('steward', () =>
        edge(port, s.running.caPem, host, 'GET', `${callback.pathname}${callback.search}`, {
          cookie: `__Host-steward-oidc=${flow}`,
        }),
      );
      if (!done.cookies.some((c) => c.startsWith('__Host-steward-session='))) {
        throw new Error(`the callback answered ${done.status} without a session`);
      }
      return { total: performance.now() - started, steward, idpMs };
    };

    for (let i = 0; i < warmup; i++) await signIn();
    const runs: { total: number; steward: number; idpMs: number }[] = [];
    for (let i = 0; i < signIns; i++) runs.push(await signIn());
    log(`bench/identity-oidc: ${signIns} sign-ins`);
    return {
      benchmark: 'identity-oidc',
      signIns,
      roundTripMs: stats(runs.map((r) => r.total)),
      stewardMs: stats(runs.map((r) => r.steward)),
      idpMs: stats(runs.map((r) => r.idpMs)),
    };
  },
  { overrides: { identity: { idpCaFile: caFile } } },
);
await rm(dir, { recursive: true, force: true });
