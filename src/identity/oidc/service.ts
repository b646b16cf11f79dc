import * as client from 'openid-client';
import type { Logger } from 'pino';
import type { MasterKeys } from '../../audit/integrity.ts';
import type { Clock } from '../../core/clock.ts';
import { ConflictError, NotFoundError, UnavailableError, showValue } from '../../core/errors.ts';
import type {
  LoginLog,
  OidcChoice,
  OidcSignIn,
  SignInFailureReason,
  SignInPlace,
  SignInResult,
} from '../contracts.ts';
import {
  displayName,
  entraObjectId,
  groupsClaim,
  joinValue,
  joinValueVerified,
  verifiedEmail,
} from './claims.ts';
import type { OidcConnection } from './connections.ts';
import { flowLifetimeSeconds, openFlow, sealFlow, stateHash, type OidcFlow } from './flow-cookie.ts';
import { graphMemberGroups } from './graph.ts';
import type { IdpFetch } from './http.ts';
import {
  discoveredIssuer,
  discoveryUrl,
  entraTokenEndpoint,
  tenantIdPlaceholder,
  tokenIssuer,
} from './issuer.ts';
import { planJoin, type JoinUser, type OidcDirectory } from './join.ts';
import type { OidcStore } from './store.ts';

export interface OidcServiceOptions {
  readonly store: OidcStore;
  readonly directory: OidcDirectory;
  readonly loginLog: LoginLog;
  /** The master keys: the flow cookie's sealing key is derived from them. */
  readonly keys: MasterKeys;
  readonly fetch: IdpFetch;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The edge's public HTTPS port, when it is not 443 (it is then in the redirect URI). */
  readonly publicPort?: () => number | undefined;
  /** Discovery documents are read again after this long (default an hour); a stale one serves a day if the IdP is down. */
  readonly discoveryTtlMs?: number;
}

type Metadata = client.ServerMetadata;

/** A sign-in that ends in a refusal: its reason and a detail for the login log (no secrets, no tokens). */
class Refusal extends Error {
  readonly reason: SignInFailureReason;
  readonly detail: string;
  constructor(reason: SignInFailureReason, detail: string) {
    super(detail);
    this.reason = reason;
    this.detail = detail;
  }
}

/** Thrown by the first pass of a multi-tenant exchange once it holds the token response. */
class Captured extends Error {}

const messages: Record<SignInFailureReason, string> = {
  bad_password: 'Sign-in failed.',
  unknown_user: 'Sign-in failed.',
  mfa_failed: 'Sign-in failed.',
  locked: 'Sign-in is locked for a while; try again later.',
  inactive: 'This account is deactivated. Ask your administrator.',
  idp_error: 'The identity provider did not complete the sign-in. Try again.',
  not_allowed: 'This account may not sign in here. Ask your administrator.',
  bad_request: 'The sign-in could not be completed (it expired or was started elsewhere). Start again.',
};

/**
 * OIDC sign-in (contracts.ts OidcSignIn) with openid-client: discovery
 * (cached, refreshed, the issuer pinned exactly), authorization code with
 * PKCE (S256), state and nonce in the sealed flow cookie bound to the host,
 * Entra's multi-tenant issuers only with an allow-list of tids, the groups
 * overage through Microsoft Graph, and the join to the directory (join.ts).
 * Every outcome goes to the login log; no IdP token leaves this module.
 */
export class OidcService implements OidcSignIn {
  readonly #o: OidcServiceOptions;
  readonly #discovery = new Map<string, { readonly metadata: Metadata; readonly at: number }>();

  constructor(options: OidcServiceOptions) {
    this.#o = options;
  }

  async choices(place: SignInPlace): Promise<readonly OidcChoice[]> {
    const connections = await this.#o.store.forStage(place.tenantId, place.stage);
    return connections.map((c) => ({ name: c.name, label: c.label }));
  }

  redirectUri(host: string): string {
    const port = this.#o.publicPort?.();
    return `https://${host}${port !== undefined && port !== 443 ? `:${port}` : ''}/.steward/auth/callback`;
  }

  async begin(
    place: SignInPlace,
    name: string,
    returnTo: string,
  ): Promise<{ readonly redirectTo: string; readonly flowCookie: string }> {
    const connection = await this.#connection(place, name);
    if (!connection) {
      throw new NotFoundError(`there is no sign-in connection ${showValue(name)} here`, {
        field: 'connection',
      });
    }
    let config: client.Configuration;
    try {
      config = await this.#configuration(connection, await this.#metadata(connection));
    } catch (error) {
      const detail = error instanceof Refusal ? error.detail : 'the identity provider could not be reached';
      await this.#log(place, connection, null, null, 'idp_error', detail);
      throw new UnavailableError(`sign-in with ${connection.label} is not available: ${detail}`, {
        cause: error,
      });
    }
    const verifier = client.randomPKCECodeVerifier();
    const flow: OidcFlow = {
      v: 1,
      connection: connection.name,
      tenantId: place.tenantId,
      stage: place.stage,
      host: place.host,
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier,
      returnTo: safeReturnTo(returnTo),
      expiresAt: Math.floor(this.#o.clock.now().getTime() / 1000) + flowLifetimeSeconds,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(place.host),
      scope: connection.scopes.join(' '),
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { redirectTo: url.href, flowCookie: sealFlow(this.#o.keys, flow) };
  }

  async complete(
    place: SignInPlace,
    callbackUrl: URL,
    flowCookie: string | undefined,
  ): Promise<SignInResult & { readonly returnTo?: string }> {
    const now = this.#o.clock.now();
    const opened = openFlow(this.#o.keys, flowCookie, Math.floor(now.getTime() / 1000));
    if (!opened.ok) return this.#refuse(place, null, null, 'bad_request', opened.detail);
    const flow = opened.flow;
    if (flow.host !== place.host || flow.tenantId !== place.tenantId || flow.stage !== place.stage) {
      return this.#refuse(place, null, null, 'bad_request', 'the sign-in began on another host');
    }
    const connection = await this.#connection(place, flow.connection);
    if (!connection) {
      return this.#refuse(place, null, null, 'bad_request', `connection ${flow.connection} is gone`);
    }
    // The state first: an answer (an error too) that is not this flow's is not the IdP's word.
    const params = callbackUrl.searchParams;
    if (params.get('state') !== flow.state) {
      return this.#refuse(place, connection, null, 'bad_request', 'the state does not match the flow', flow);
    }
    if (!(await this.#o.store.useState(stateHash(flow.state), new Date(flow.expiresAt * 1000)))) {
      return this.#refuse(place, connection, null, 'bad_request', 'the callback was replayed', flow);
    }
    const error = params.get('error');
    if (error !== null) {
      const code = /^[A-Za-z0-9_.-]{1,64}$/.test(error) ? error : 'invalid_error_code';
      return this.#refuse(place, connection, null, 'idp_error', `the IdP answered ${code}`, flow);
    }
    // The callback as the IdP sent it, on the redirect URI Steward registered (not whatever host:port the pages saw).
    const current = new URL(this.redirectUri(place.host));
    current.search = callbackUrl.search;
    let claims: Record<string, unknown>;
    try {
      claims = await this.#exchange(connection, current, flow);
    } catch (error) {
      const refusal = classify(error);
      return this.#refuse(place, connection, null, refusal.reason, refusal.detail, flow);
    }
    return this.#signIn(place, connection, claims, flow);
  }

  async #signIn(
    place: SignInPlace,
    connection: OidcConnection,
    claims: Record<string, unknown>,
    flow: OidcFlow,
  ): Promise<SignInResult & { readonly returnTo?: string }> {
    const value = joinValue(claims, connection.joinClaim);
    const userName = value ?? null;
    const check = tokenIssuer(connection.trust, claims.tid);
    if (connection.kind === 'entra' && !check.ok) {
      return this.#refuse(place, connection, userName, check.reason, check.detail, flow);
    }
    const issuer = typeof claims.iss === 'string' ? claims.iss : connection.issuer;
    const subject = typeof claims.sub === 'string' ? claims.sub : '';
    const directory = this.#o.directory;
    const linkedId = await this.#o.store.linkedUser(connection.id, issuer, subject);
    const linked = linkedId ? await directory.user(place.tenantId, linkedId) : undefined;
    const verified = joinValueVerified(claims, connection.joinClaim);
    const plan = planJoin({
      linked,
      claim: connection.joinClaim,
      value,
      verified,
      candidates:
        !linked && value !== undefined && verified ? await directory.matching(place.tenantId, value) : [],
      provision: connection.provision,
    });
    if (plan.kind === 'refuse')
      return this.#refuse(place, connection, userName, plan.reason, plan.detail, flow);
    let user: JoinUser;
    if (plan.kind === 'provision') {
      try {
        user = await directory.provision(place.tenantId, {
          userName: plan.userName,
          email: verifiedEmail(claims),
          displayName: displayName(claims),
        });
      } catch (error) {
        // Two first sign-ins at once: the other one made the user (userName is unique); take it.
        const made = (await directory.matching(place.tenantId, plan.userName)).find(
          (u) => u.userName.toLowerCase() === plan.userName.toLowerCase(),
        );
        if (!made || !(error instanceof ConflictError)) throw error;
        if (!made.active)
          return this.#refuse(place, connection, userName, 'inactive', 'the user is deactivated', flow);
        user = made;
      }
    } else {
      user = plan.user;
    }
    if (plan.kind === 'provision' || (plan.kind === 'user' && plan.link)) {
      await this.#o.store.link(connection.id, issuer, subject, user.id);
    }
    const groups = await this.#groupsNote(connection, claims);
    await this.#o.loginLog.record({
      tenantId: place.tenantId,
      stage: place.stage,
      userId: user.id,
      userName: user.userName,
      method: 'oidc',
      outcome: 'success',
      reason: null,
      address: place.address,
      detail: `connection ${connection.name}${plan.kind === 'provision' ? ', provisioned' : ''}${groups}`,
    });
    return { kind: 'signed-in', userId: user.id, method: 'oidc', amr: ['oidc'], returnTo: flow.returnTo };
  }

  /**
   * What the login log says of the token's groups. The directory (SCIM, LDAP)
   * stays the source of a user's groups; the IdP's are resolved so that an
   * overage is seen and reported, never silently cut.
   */
  async #groupsNote(connection: OidcConnection, claims: Record<string, unknown>): Promise<string> {
    if (connection.groupsClaim === null) return '';
    const groups = groupsClaim(claims, connection.groupsClaim);
    if (groups.kind === 'none') return '';
    if (groups.kind === 'listed') return `, ${groups.groups.length} groups from the IdP`;
    const oid = entraObjectId(claims);
    const tid = typeof claims.tid === 'string' ? claims.tid : undefined;
    if (connection.kind !== 'entra' || connection.graphUrl === null || !oid || !tid) {
      return ', groups overage: the IdP left the groups out and Microsoft Graph is not configured (the user signed in with the groups the directory has)';
    }
    try {
      const resolved = await graphMemberGroups(this.#o.fetch, {
        tokenUrl: entraTokenEndpoint(connection.issuer, tid),
        graphUrl: connection.graphUrl,
        clientId: connection.clientId,
        clientSecret: await this.#o.store.clientSecret(connection),
        objectId: oid,
      });
      return `, groups overage: ${resolved.length} groups from Microsoft Graph`;
    } catch (error) {
      const detail = error instanceof Error ? error.message : 'failed';
      return `, groups overage: Microsoft Graph failed (${detail}); the user signed in with the groups the directory has`;
    }
  }

  /** The connection named, if the place offers it. */
  async #connection(place: SignInPlace, name: string): Promise<OidcConnection | undefined> {
    return (await this.#o.store.forStage(place.tenantId, place.stage)).find((c) => c.name === name);
  }

  /** The IdP's metadata, its issuer pinned; cached, refreshed after the TTL, a stale copy served while the IdP is down. */
  async #metadata(connection: OidcConnection): Promise<Metadata> {
    const ttl = this.#o.discoveryTtlMs ?? 3_600_000;
    const now = this.#o.clock.now().getTime();
    const key = `${connection.kind} ${connection.issuer} ${discoveredIssuer(connection.trust)}`;
    const cached = this.#discovery.get(key);
    if (cached && now - cached.at < ttl) return cached.metadata;
    try {
      const response = await this.#o.fetch(discoveryUrl(connection.issuer), {
        method: 'GET',
        headers: { accept: 'application/json' },
      });
      if (!response.ok) throw new Refusal('idp_error', `discovery answered ${response.status}`);
      const metadata = (await response.json()) as Metadata;
      const expected = discoveredIssuer(connection.trust);
      if (metadata.issuer !== expected) {
        throw new Refusal(
          'idp_error',
          `discovery names issuer ${showValue(metadata.issuer)}, the connection pins ${showValue(expected)}`,
        );
      }
      this.#discovery.set(key, { metadata, at: now });
      return metadata;
    } catch (error) {
      if (cached && now - cached.at < 24 * 3_600_000 && !(error instanceof Refusal)) {
        this.#o.logger.warn(
          { connection: connection.name },
          'OIDC discovery failed; using the cached document',
        );
        return cached.metadata;
      }
      throw error;
    }
  }

  async #configuration(
    connection: OidcConnection,
    metadata: Metadata,
    fetch: IdpFetch = this.#o.fetch,
  ): Promise<client.Configuration> {
    const secret = await this.#o.store.clientSecret(connection);
    const methods = metadata.token_endpoint_auth_methods_supported;
    const auth =
      methods === undefined || methods.includes('client_secret_basic')
        ? client.ClientSecretBasic(secret)
        : client.ClientSecretPost(secret);
    const config = new client.Configuration(metadata, connection.clientId, undefined, auth);
    config[client.customFetch] = fetch;
    config.timeout = 10;
    return config;
  }

  /**
   * The code for tokens and the ID token's claims, checked by openid-client (issuer, audience,
   * azp, nonce, expiry, issued-at). Its signature is vouched for by the verified TLS channel to
   * the pinned issuer's token endpoint it came over (OIDC Core 3.1.3.7), as openid-client has it.
   */
  async #exchange(
    connection: OidcConnection,
    current: URL,
    flow: OidcFlow,
  ): Promise<Record<string, unknown>> {
    const metadata = await this.#metadata(connection);
    const checks = { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce };
    if (connection.trust.kind === 'exact') {
      const tokens = await client.authorizationCodeGrant(
        await this.#configuration(connection, metadata),
        current,
        { ...checks, idTokenExpected: true },
      );
      return { ...tokens.claims() };
    }
    // Multi-tenant Entra: the issuer a token must carry depends on its own tid. The first pass
    // exchanges the code and keeps the token response unread; the tid is peeked from it only to
    // name the issuer the second pass verifies that same response against, in full.
    const tokenEndpoint = metadata.token_endpoint;
    let captured: { readonly status: number; readonly headers: Headers; readonly body: string } | undefined;
    const capture: IdpFetch = async (url, init) => {
      const response = await this.#o.fetch(url, init);
      if (url !== tokenEndpoint) return response;
      captured = { status: response.status, headers: response.headers, body: await response.text() };
      throw new Captured();
    };
    const firstPass = new URL(current);
    firstPass.searchParams.delete('iss');
    try {
      await client.authorizationCodeGrant(
        await this.#configuration(
          connection,
          { ...metadata, authorization_response_iss_parameter_supported: false },
          capture,
        ),
        firstPass,
        checks,
      );
    } catch (error) {
      if (!captured) throw error;
    }
    if (!captured) throw new Refusal('idp_error', 'the token endpoint was not reached');
    const answer = captured;
    const tid = answer.status === 200 ? peekTid(answer.body) : undefined;
    if (answer.status === 200 && tid === undefined) {
      throw new Refusal('idp_error', 'the ID token has no tenant id (tid)');
    }
    const replay: IdpFetch = (url, init) =>
      url === tokenEndpoint
        ? Promise.resolve(new Response(answer.body, { status: answer.status, headers: answer.headers }))
        : this.#o.fetch(url, init);
    const issuer = discoveredIssuer(connection.trust).replace(
      tenantIdPlaceholder,
      tid ?? tenantIdPlaceholder,
    );
    const tokens = await client.authorizationCodeGrant(
      await this.#configuration(connection, { ...metadata, issuer }, replay),
      current,
      { ...checks, idTokenExpected: true },
    );
    return { ...tokens.claims() };
  }

  async #refuse(
    place: SignInPlace,
    connection: OidcConnection | null,
    userName: string | null,
    reason: SignInFailureReason,
    detail: string,
    flow?: OidcFlow,
  ): Promise<SignInResult & { readonly returnTo?: string }> {
    await this.#log(place, connection, null, userName, reason, detail);
    return {
      kind: 'refused',
      reason,
      message: messages[reason],
      ...(flow ? { returnTo: flow.returnTo } : {}),
    };
  }

  async #log(
    place: SignInPlace,
    connection: OidcConnection | null,
    userId: string | null,
    userName: string | null,
    reason: SignInFailureReason,
    detail: string,
  ): Promise<void> {
    await this.#o.loginLog.record({
      tenantId: place.tenantId,
      stage: place.stage,
      userId,
      userName: userName?.slice(0, 256) ?? null,
      method: 'oidc',
      outcome: 'failure',
      reason,
      address: place.address,
      detail: `${connection ? `connection ${connection.name}: ` : ''}${detail}`.slice(0, 500),
    });
  }
}

/** A path on the same host, or `/`: the flow never redirects off the stage's host. */
export function safeReturnTo(value: string): string {
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || value.length > 2000)
    return '/';
  // Printable ASCII only (a browser sends the rest percent-encoded): no header or control tricks.
  return /^[\x20-\x7e]+$/.test(value) ? value : '/';
}

/** The tid of an unverified token response: only to pick the issuer it is then verified against. */
function peekTid(body: string): string | undefined {
  try {
    const idToken = (JSON.parse(body) as { id_token?: unknown }).id_token;
    if (typeof idToken !== 'string') return undefined;
    const payload = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      tid?: unknown;
    };
    return typeof payload.tid === 'string' && /^[0-9a-f-]{36}$/.test(payload.tid) ? payload.tid : undefined;
  } catch {
    return undefined;
  }
}

/** An exchange's failure as the login log records it: the IdP's error code, or which check failed. */
function classify(error: unknown): Refusal {
  if (error instanceof Refusal) return error;
  if (error instanceof client.ResponseBodyError) {
    return new Refusal('idp_error', `the token endpoint answered ${error.error.slice(0, 64)}`);
  }
  if (error instanceof client.AuthorizationResponseError) {
    return new Refusal('idp_error', `the IdP answered ${error.error.slice(0, 64)}`);
  }
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : 'failed';
  // Which claim failed its check (nonce, iss, aud, ...): the name only, never the token's values.
  const inner = (error as { cause?: { claim?: unknown; cause?: { claim?: unknown } } }).cause;
  const claim = inner?.claim ?? inner?.cause?.claim;
  const named = typeof claim === 'string' && /^[a-z_]{1,32}$/.test(claim) ? ` (claim ${claim})` : '';
  return new Refusal(
    'idp_error',
    `${typeof code === 'string' ? `${code}: ` : ''}${message}${named}`.slice(0, 300),
  );
}
