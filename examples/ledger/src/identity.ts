/**
 * Who is asking: the signed identity Steward's edge puts in front of every
 * request of a signed-in user, `X-Steward-Identity`, a compact JWS (ES256)
 * that the app verifies itself. A header that is missing, malformed, signed
 * with another algorithm (or none) or another key, expired, or made for
 * another tenant or stage is worthless: the user is anonymous, and the app
 * logs why (never the token). Only node:crypto: the app stays light.
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ConfigError } from './config.ts';
import type { Logger } from './log.ts';

export interface Identity {
  readonly authenticated: boolean;
  /** Steward's id of the user (the token's `sub`), or `anonymous`. */
  readonly id: string;
  /** The user's login name in the tenant's directory (`user_name`). */
  readonly userName: string | null;
  readonly email: string | null;
  readonly name: string | null;
  /** The user's groups (display names); cut short when `groupsOverage`. */
  readonly groups: readonly string[];
  /** The app roles the tenant mapped the user's groups to on this stage. */
  readonly roles: readonly string[];
  readonly groupsOverage: boolean;
}

export const anonymous: Identity = {
  authenticated: false,
  id: 'anonymous',
  userName: null,
  email: null,
  name: null,
  groups: [],
  roles: [],
  groupsOverage: false,
};

export const identityHeader = 'x-steward-identity';

/** Why a header was refused: what the app logs, and what /api/me says. */
export const refusalReasons = [
  'malformed',
  'algorithm',
  'unknown_key',
  'signature',
  'expired',
  'not_yet_valid',
  'issuer',
  'tenant',
  'stage',
  'claims',
  'no_keys',
] as const;
export type RefusalReason = (typeof refusalReasons)[number];

export type Verification =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'signed-in'; readonly identity: Identity }
  | { readonly kind: 'refused'; readonly reason: RefusalReason; readonly detail: string };

export interface VerifyingKey {
  readonly kid: string | undefined;
  readonly key: KeyObject;
}

export interface Expected {
  readonly tenant: string;
  readonly stage: string;
  /** Seconds since the epoch. */
  readonly now: number;
}

/** Clock difference tolerated on `exp` and `nbf`, in seconds. */
const leewaySeconds = 5;
const maxTokenLength = 16 * 1024;
const base64url = /^[A-Za-z0-9_-]+$/;

const refuse = (reason: RefusalReason, detail: string): Verification => ({ kind: 'refused', reason, detail });

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const text = (value: unknown, max: number): string | null =>
  typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, max) : null;

function names(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 1000 || !value.every((v) => typeof v === 'string'))
    return undefined;
  return value.map((v) => v.slice(0, 256));
}

/**
 * Verifies one header value: the signature first (ES256 only, a key of the
 * set), then the claims. Claims are read only from a verified token, so what
 * a refusal's detail names (a tenant, a stage) is Steward's, not a forger's.
 */
export function verifyIdentity(
  token: string | undefined,
  keys: readonly VerifyingKey[],
  expected: Expected,
): Verification {
  if (token === undefined) return { kind: 'anonymous' };
  if (token.length > maxTokenLength) return refuse('malformed', `longer than ${maxTokenLength} characters`);
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts.every((p) => base64url.test(p)))
    return refuse('malformed', 'not a compact JWS (three base64url parts)');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart);
  if (!header) return refuse('malformed', 'the JWS header is not a JSON object');
  if (header['alg'] !== 'ES256')
    return refuse('algorithm', `alg ${JSON.stringify(header['alg'])}; only ES256 is accepted`);
  if (header['crit'] !== undefined)
    return refuse('malformed', 'critical header parameters are not supported');
  if (keys.length === 0) return refuse('no_keys', 'no identity keys are configured (STEWARD_IDENTITY_JWKS)');
  const kid = typeof header['kid'] === 'string' ? header['kid'] : undefined;
  const key = kid !== undefined ? keys.find((k) => k.kid === kid) : keys.length === 1 ? keys[0] : undefined;
  if (!key)
    return refuse(
      'unknown_key',
      kid === undefined ? 'no kid, and several keys' : `kid ${JSON.stringify(kid.slice(0, 64))}`,
    );
  const signature = Buffer.from(signaturePart, 'base64url');
  const signed =
    signature.length === 64 &&
    verify(
      'sha256',
      Buffer.from(`${headerPart}.${payloadPart}`),
      { key: key.key, dsaEncoding: 'ieee-p1363' },
      signature,
    );
  if (!signed)
    return refuse(
      'signature',
      `the signature does not verify with key ${JSON.stringify(key.kid ?? '(no kid)')}`,
    );

  const claims = decodeJson(payloadPart);
  if (!claims) return refuse('malformed', 'the payload is not a JSON object');
  const exp = claims['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return refuse('claims', 'no exp');
  if (expected.now > exp + leewaySeconds)
    return refuse('expired', `expired ${Math.round(expected.now - exp)} s ago`);
  const nbf = claims['nbf'];
  if (nbf !== undefined && (typeof nbf !== 'number' || expected.now + leewaySeconds < nbf))
    return refuse('not_yet_valid', `nbf ${JSON.stringify(nbf)}`);
  if (claims['iss'] !== 'steward')
    return refuse('issuer', `iss ${JSON.stringify(claims['iss'])}, expected "steward"`);
  if (claims['tenant'] !== expected.tenant)
    return refuse(
      'tenant',
      `made for tenant ${JSON.stringify(claims['tenant'])}, this is ${expected.tenant}`,
    );
  if (claims['stage'] !== expected.stage)
    return refuse('stage', `made for stage ${JSON.stringify(claims['stage'])}, this is ${expected.stage}`);
  const sub = text(claims['sub'], 256);
  const groups = names(claims['groups']);
  const roles = names(claims['roles']);
  if (sub === null || groups === undefined || roles === undefined)
    return refuse('claims', 'sub must be a string, groups and roles lists of strings');
  return {
    kind: 'signed-in',
    identity: {
      authenticated: true,
      id: sub,
      userName: text(claims['user_name'], 256),
      email: text(claims['email'], 320),
      name: text(claims['name'], 256),
      groups,
      roles,
      groupsOverage: claims['groups_overage'] === true,
    },
  };
}

/** The EC P-256 signing keys of a JSON Web Key Set; other keys are skipped. Throws what is wrong. */
export function parseKeySet(json: string, source: string): VerifyingKey[] {
  let set: unknown;
  try {
    set = JSON.parse(json);
  } catch {
    throw new ConfigError(`${source} is not JSON; expected a JSON Web Key Set {"keys":[…]}`);
  }
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys))
    throw new ConfigError(`${source} has no "keys" list; expected a JSON Web Key Set {"keys":[…]}`);
  const usable: VerifyingKey[] = [];
  for (const jwk of keys as Record<string, unknown>[]) {
    if (jwk?.['kty'] !== 'EC' || jwk['crv'] !== 'P-256') continue;
    if (jwk['use'] !== undefined && jwk['use'] !== 'sig') continue;
    if (jwk['alg'] !== undefined && jwk['alg'] !== 'ES256') continue;
    const { x, y, kid } = jwk;
    try {
      usable.push({
        kid: typeof kid === 'string' ? kid : undefined,
        key: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y } as JsonWebKey, format: 'jwk' }),
      });
    } catch {
      throw new ConfigError(
        `${source}: key ${JSON.stringify(kid ?? usable.length)} is not a valid P-256 public key`,
      );
    }
  }
  return usable;
}

export interface IdentityOptions {
  readonly tenant: string;
  readonly stage: string;
  /** STEWARD_IDENTITY_JWKS: the key set itself (what the runtime passes). */
  readonly jwks: string | undefined;
  /** LEDGER_IDENTITY_JWKS_URL: where to fetch the key set instead (e.g. /.steward/auth/jwks.json). */
  readonly jwksUrl: string | undefined;
  readonly logger: Logger;
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
  readonly fetchKeys?: (url: string) => Promise<string>;
}

/** A fetched key set is fetched again for an unknown kid, at most this often. */
const refetchAfterMs = 30_000;

/**
 * Tokens already verified, kept until their own `exp`: a signed-in browser
 * sends the same token on every request for its lifetime (five minutes), and
 * an ES256 verification costs more CPU than the rest of a small request. The
 * tenant and stage are the process's, so a token valid once stays valid until
 * it expires (revocation happens at the edge, which stops sending it).
 */
const verifiedCacheSize = 1000;

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.text();
}

/**
 * The web process's verifier: keys from STEWARD_IDENTITY_JWKS, or fetched
 * from a URL (again for a kid it does not know yet: keys rotate).
 */
export class IdentityVerifier {
  readonly #o: IdentityOptions;
  #keys: readonly VerifyingKey[];
  #fetchedAt = 0;
  #fetching: Promise<void> | undefined;
  readonly #verified = new Map<string, { readonly identity: Identity; readonly until: number }>();

  constructor(options: IdentityOptions) {
    this.#o = options;
    if (options.jwks !== undefined && options.jwksUrl !== undefined)
      throw new ConfigError('set STEWARD_IDENTITY_JWKS or LEDGER_IDENTITY_JWKS_URL, not both');
    if (options.jwksUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(options.jwksUrl))
      throw new ConfigError(
        `LEDGER_IDENTITY_JWKS_URL is ${JSON.stringify(options.jwksUrl)}; expected an http(s) URL like https://dev.acme.example/.steward/auth/jwks.json`,
      );
    this.#keys = options.jwks !== undefined ? parseKeySet(options.jwks, 'STEWARD_IDENTITY_JWKS') : [];
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  async #refresh(): Promise<void> {
    const url = this.#o.jwksUrl;
    if (url === undefined || this.#now() - this.#fetchedAt < refetchAfterMs) return;
    this.#fetching ??= (async () => {
      try {
        this.#keys = parseKeySet(await (this.#o.fetchKeys ?? fetchText)(url), url);
        this.#o.logger.info('identity keys fetched', { keys: this.#keys.map((k) => k.kid ?? null) });
      } catch (error) {
        this.#o.logger.warn('identity keys not fetched', { url, error: (error as Error).message });
      } finally {
        this.#fetchedAt = this.#now();
        this.#fetching = undefined;
      }
    })();
    await this.#fetching;
  }

  async verify(headers: IncomingHttpHeaders): Promise<Verification> {
    const raw = headers[identityHeader];
    const token = Array.isArray(raw) ? raw.join(',') : raw;
    const expected = {
      tenant: this.#o.tenant,
      stage: this.#o.stage,
      now: this.#now() / 1000,
    };
    const known = token === undefined ? undefined : this.#verified.get(token);
    if (known && expected.now < known.until) return { kind: 'signed-in', identity: known.identity };
    let result = verifyIdentity(token, this.#keys, expected);
    if (result.kind === 'refused' && (result.reason === 'unknown_key' || result.reason === 'no_keys')) {
      await this.#refresh();
      result = verifyIdentity(token, this.#keys, expected);
    }
    if (result.kind === 'signed-in' && token !== undefined) this.#remember(token, result.identity);
    if (result.kind === 'refused')
      this.#o.logger.warn('identity header refused: the request is anonymous', {
        reason: result.reason,
        detail: result.detail,
      });
    return result;
  }

  #remember(token: string, identity: Identity): void {
    // Read only after the signature and claims were verified: the payload is Steward's.
    const exp = decodeJson(token.trim().split('.')[1] ?? '')?.['exp'];
    if (typeof exp !== 'number') return;
    if (this.#verified.size >= verifiedCacheSize) {
      const oldest = this.#verified.keys().next();
      if (!oldest.done) this.#verified.delete(oldest.value);
    }
    this.#verified.set(token, { identity, until: exp });
  }

  /** The user of a request: signed in, or anonymous (with the reason its header was refused). */
  async identityOf(
    headers: IncomingHttpHeaders,
  ): Promise<{ identity: Identity; refused: RefusalReason | null }> {
    const result = await this.verify(headers);
    if (result.kind === 'signed-in') return { identity: result.identity, refused: null };
    return { identity: anonymous, refused: result.kind === 'refused' ? result.reason : null };
  }
}
