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
 * bench/identity.ts (id-edge) can run it beside the local-user round trip in
 * its own Steward: oidcRoundTrip(), with idpCaFile() for its config.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { idpFetch } from '../src/identity/oidc/index.ts';
import { createCa, type CertificateAuthority } from '../src/tls/ca.ts';
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
  type BenchSteward,
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

/** What the OIDC case needs: an IdP CA that the Steward trusts (its identity.idpCaFile) and where to write it. */
export async function idpCaFile(
  dir: string,
): Promise<{ readonly ca: CertificateAuthority; readonly file: string }> {
  const ca = await createCa('Bench IdP CA');
  const file = join(dir, 'idp-ca.pem');
  await writeFile(file, ca.certPem);
  return { ca, file };
}

export interface OidcRoundTripOptions {
  /** The CA behind `identity.idpCaFile` of the Steward under test. */
  readonly ca: CertificateAuthority;
  /** A tenant whose prod stage is deployed (its host routed); the OIDC connection `bench` is added to it. */
  readonly tenant: string;
  readonly signIns?: number;
  readonly warmup?: number;
}

/**
 * The OIDC sign-in round trip against a running Steward (as withSteward gives
 * it): starts the IdP, adds the connection, signs in `warmup` + `signIns` times.
 */
export async function oidcRoundTrip(
  s: BenchSteward,
  onCleanup: (fn: () => unknown) => void,
  options: OidcRoundTripOptions,
): Promise<Record<string, unknown>> {
  const { ca, tenant } = options;
  const host = `prod.${tenant}.localhost`;
  const gatewayUrl = s.running.gatewayUrl;
  if (!gatewayUrl) throw new Error('the OIDC round trip needs the data plane');
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

  for (let i = 0; i < (options.warmup ?? warmup); i++) await signIn();
  const runs: { total: number; steward: number; idpMs: number }[] = [];
  const count = options.signIns ?? signIns;
  for (let i = 0; i < count; i++) runs.push(await signIn());
  log(`bench/identity-oidc: ${count} sign-ins`);
  return {
    benchmark: 'identity-oidc',
    signIns: count,
    roundTripMs: stats(runs.map((r) => r.total)),
    stewardMs: stats(runs.map((r) => r.steward)),
    idpMs: stats(runs.map((r) => r.idpMs)),
  };
}

// Run on its own (npm run bench:identity-oidc); bench/identity.ts imports oidcRoundTrip instead.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-oidc-'));
  const { ca, file } = await idpCaFile(dir);
  await withSteward(
    'identity-oidc',
    async (s, onCleanup) => {
      await uploadRelease(s.api, ledgerDir, '1.0.0');
      await createTenant(s.api, 'acme', ['prod']);
      // The stage's host is routed (and has its certificate) once a release serves it.
      await deploy(s.api, 'acme', 'prod', '1.0.0');
      await s.api.patch('/api/v1/tenants/acme/identity', { stage: 'prod', signIn: 'required' });
      return oidcRoundTrip(s, onCleanup, { ca, tenant: 'acme' });
    },
    { overrides: { identity: { idpCaFile: file } } },
  );
  await rm(dir, { recursive: true, force: true });
}
