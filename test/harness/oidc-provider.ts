import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider, { type Configuration } from 'oidc-provider';
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { createCa, issueServerCertificate, type CertificateAuthority } from '../../src/tls/ca.ts';

/**
 * A real identity provider for tests: the `oidc-provider` package on loopback
 * HTTPS, its certificate from a CA of its own (`ca`) that Steward is told to
 * trust for IdP requests (config identity.idpCaFile), never an off switch for
 * TLS checks. One HTTPS server holds:
 *
 * - a generic IdP at `<origin>/gen`;
 * - per Entra directory id (`tids`) an IdP at `<origin>/<tid>/v2.0` whose tokens
 *   carry that `tid`, and a multi-tenant front at `<origin>/common/v2.0` posing
 *   as Entra's: its discovery names the template `<origin>/{tenantid}/v2.0`, it
 *   sends the browser to the signing-in account's home directory and forwards
 *   the code exchange there;
 * - Entra's client-credentials token endpoint `<origin>/<tid>/oauth2/v2.0/token`
 *   and a fake Microsoft Graph (`graphUrl`, another host name of the same
 *   server) answering `POST /v1.0/users/{oid}/getMemberGroups`.
 *
 * Sign-in pages: `login(account)` makes the next interaction sign that account
 * in without a page (headless tests); otherwise a form asks for the account
 * name (the browser test). `deny()` makes the next one end in access_denied.
 */
export interface TestIdpAccount {
  readonly id: string;
  /** Claims of the account (email, name, preferred_username, groups, tid, oid, _claim_names ...). */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface TestIdpClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
}

export interface TestIdpOptions {
  readonly clients: readonly TestIdpClient[];
  readonly accounts: readonly TestIdpAccount[];
  /** Entra directory ids to pose as. */
  readonly tids?: readonly string[];
  /** Fake Graph: the group ids of each object id. */
  readonly graphGroups?: Readonly<Record<string, readonly string[]>>;
  /** The CA to issue the server's certificate from (made before Steward starts, to trust it); default a new one. */
  readonly ca?: CertificateAuthority;
}

export interface TestIdp {
  /** PEM of the CA that issued the server's certificate. */
  readonly ca: string;
  /** The base64 SHA-256 of the server certificate's public key (Chromium's --ignore-certificate-errors-spki-list pins it). */
  readonly spki: string;
  readonly origin: string;
  /** The generic IdP's issuer. */
  readonly issuer: string;
  /** The issuer of one posed Entra directory, and of the multi-tenant front. */
  entraIssuer(tid: string): string;
  readonly entraCommon: string;
  readonly graphUrl: string;
  /** Requests the fake Graph answered. */
  graphCalls(): number;
  login(accountId: string): void;
  deny(): void;
  close(): Promise<void>;
}

export async function startTestIdp(options: TestIdpOptions): Promise<TestIdp> {
  const ca = options.ca ?? (await createCa('Test IdP CA'));
  const cert = await issueServerCertificate(ca, ['127.0.0.1', 'localhost']);
  const accounts = new Map(options.accounts.map((a) => [a.id, a]));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-idp', use: 'sig', alg: 'RS256' };
  let next: { kind: 'login'; account: string } | { kind: 'deny' } | undefined;
  let homeTid: string | undefined;
  let graphCalls = 0;
  const graphTokens = new Set<string>();
  const providers = new Map<string, Provider>();

  const server: Server = createServer({ key: cert.keyPem, cert: cert.chainPem }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const origin = `https://127.0.0.1:${port}`;
  const graphUrl = `https://localhost:${port}`;

  function provider(mount: string): Provider {
    const configuration: Configuration = {
      clients: options.clients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        redirect_uris: [...c.redirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      })),
      jwks: { keys: [jwk] },
      cookies: { keys: [randomBytes(16).toString('hex')] },
      claims: {
        openid: ['sub', 'tid', 'oid', 'groups'],
        email: ['email', 'email_verified'],
        profile: ['name', 'preferred_username'],
      },
      conformIdTokenClaims: false,
      ttl: {
        Interaction: 600,
        Grant: 600,
        Session: 600,
        AccessToken: 600,
        IdToken: 600,
        AuthorizationCode: 60,
      },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
      findAccount: (_ctx, id) => {
        const account = accounts.get(id);
        if (!account) return undefined;
        return { accountId: id, claims: () => ({ sub: id, ...account.claims }) };
      },
      async loadExistingGrant(ctx) {
        const { Grant } = ctx.oidc.provider;
        const clientId = ctx.oidc.client?.clientId ?? '';
        const accountId = ctx.oidc.session?.accountId ?? '';
        const grant = new Grant({ clientId, accountId });
        grant.addOIDCScope('openid email profile');
        await grant.save();
        return grant;
      },
    };
    const p = new Provider(`${origin}${mount}`, configuration);
    p.on('server_error', () => undefined);
    return p;
  }
  providers.set('/gen', provider('/gen'));
  for (const tid of options.tids ?? []) providers.set(`/${tid}/v2.0`, provider(`/${tid}/v2.0`));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    if (req.headers.host === `localhost:${port}`) return graph(req, res, url);
    const path = url.pathname;
    const commonPrefix = '/common/v2.0';
    if (path.startsWith(commonPrefix)) return common(req, res, url, path.slice(commonPrefix.length));
    const cc = /^\/([0-9a-f-]{36})\/oauth2\/v2\.0\/token$/.exec(path);
    if (cc) return clientCredentials(req, res);
    for (const [mount, p] of providers) {
      if (path !== mount && !path.startsWith(`${mount}/`)) continue;
      const rest = path.slice(mount.length);
      if (rest.startsWith('/interaction/')) return interaction(p, req, res, rest);
      (req as { originalUrl?: string }).originalUrl = req.url;
      req.url = `${rest || '/'}${url.search}`;
      return p.callback()(req, res);
    }
    res.writeHead(404).end();
  }

  async function interaction(
    p: Provider,
    req: IncomingMessage,
    res: ServerResponse,
    rest: string,
  ): Promise<void> {
    const details = await p.interactionDetails(req, res);
    const finish = (account: string): Promise<void> =>
      p.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    if (req.method === 'POST' && rest.endsWith('/login')) {
      const form = new URLSearchParams(await body(req));
      return finish(form.get('login') ?? '');
    }
    const planned = next;
    next = undefined;
    if (planned?.kind === 'deny') {
      return p.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'denied by the test',
      });
    }
    if (planned?.kind === 'login') return finish(planned.account);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><html><body><h1>Test IdP</h1><form method="post" action="${req.url ?? ''}/login">` +
        `<label>Account <input name="login" id="login"></label> <button type="submit">Sign in at the IdP</button>` +
        `</form><!-- ${details.uid} --></body></html>`,
    );
  }

  /** The multi-tenant front: discovery with the template, the browser to the home directory, the code exchange forwarded. */
  async function common(req: IncomingMessage, res: ServerResponse, url: URL, rest: string): Promise<void> {
    const tids = options.tids ?? [];
    const first = tids[0];
    if (first === undefined) return void res.writeHead(404).end();
    if (rest === '/.well-known/openid-configuration') {
      const tenant = await (await fetchLocal(`/${first}/v2.0/.well-known/openid-configuration`)).json();
      const metadata = {
        ...(tenant as Record<string, unknown>),
        issuer: `${origin}/{tenantid}/v2.0`,
        authorization_endpoint: `${origin}/common/v2.0/auth`,
        token_endpoint: `${origin}/common/v2.0/token`,
      };
      delete (metadata as Record<string, unknown>).authorization_response_iss_parameter_supported;
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(metadata));
    }
    const account = next?.kind === 'login' ? accounts.get(next.account) : undefined;
    if (rest === '/auth') {
      homeTid = typeof account?.claims.tid === 'string' ? account.claims.tid : first;
      res.writeHead(302, { location: `${origin}/${homeTid}/v2.0/auth${url.search}` });
      return void res.end();
    }
    if (rest === '/token') {
      const p = providers.get(`/${homeTid ?? first}/v2.0`);
      if (!p) return void res.writeHead(404).end();
      (req as { originalUrl?: string }).originalUrl = `/${homeTid ?? first}/v2.0/token`;
      req.url = '/token';
      return p.callback()(req, res);
    }
    res.writeHead(404).end();
  }

  async function clientCredentials(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await body(req));
    const client = options.clients.find((c) => c.clientId === form.get('client_id'));
    if (
      !client ||
      client.clientSecret !== form.get('client_secret') ||
      form.get('grant_type') !== 'client_credentials'
    ) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: 'invalid_client' }));
    }
    const token = randomBytes(16).toString('hex');
    graphTokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
  }

  async function graph(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    graphCalls += 1;
    await body(req);
    const match = /^\/v1\.0\/users\/([^/]+)\/getMemberGroups$/.exec(url.pathname);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!graphTokens.has(token)) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { code: 'InvalidAuthenticationToken' } }));
    }
    if (req.method !== 'POST' || !match) return void res.writeHead(404).end();
    const groups = options.graphGroups?.[decodeURIComponent(match[1] ?? '')] ?? [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value: groups }));
  }

  function fetchLocal(path: string): Promise<Response> {
    // The harness asks itself, trusting its own CA.
    return new Promise((resolve, reject) => {
      import('node:https')
        .then(({ get }) =>
          get(`${origin}${path}`, { ca: ca.certPem }, (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: r.statusCode ?? 500 })));
          }).on('error', reject),
        )
        .catch(reject);
    });
  }

  const spki = createHash('sha256')
    .update(new X509Certificate(cert.certPem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  return {
    ca: ca.certPem,
    spki,
    origin,
    issuer: `${origin}/gen`,
    entraIssuer: (tid) => `${origin}/${tid}/v2.0`,
    entraCommon: `${origin}/common/v2.0`,
    graphUrl,
    graphCalls: () => graphCalls,
    login(account) {
      next = { kind: 'login', account };
    },
    deny() {
      next = { kind: 'deny' };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
