import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../examples/ledger/src/config.ts';
import {
  IdentityVerifier,
  parseKeySet,
  verifyIdentity,
  type Verification,
} from '../../examples/ledger/src/identity.ts';
import type { Logger } from '../../examples/ledger/src/log.ts';

/**
 * The sample app's check of X-Steward-Identity as a table: only an ES256
 * token signed by a key of the set, unexpired, made for this tenant and
 * stage, names a user; anything else leaves the request anonymous with a
 * reason. Tokens are signed with jose, an implementation other than the
 * app's (node:crypto).
 */
const ec = (): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' });
const steward = ec();
const next = ec();
const stranger = ec();
const now = Math.floor(Date.now() / 1000);
const expected = { tenant: 'acme', stage: 'prod', now };

async function jwks(...keys: [string, KeyObject][]): Promise<string> {
  return JSON.stringify({
    keys: await Promise.all(
      keys.map(async ([kid, key]) => ({ ...(await exportJWK(key)), kid, alg: 'ES256', use: 'sig' })),
    ),
  });
}
const keySet = jwks(['k1', steward.publicKey], ['k2', next.publicKey]);

const claims = {
  iss: 'steward',
  sub: '0b6f-user',
  sid: 'sess-1',
  tenant: 'acme',
  stage: 'prod',
  host: 'prod.acme.example',
  email: 'ann@acme.example',
  name: 'Ann Example',
  user_name: 'ann',
  groups: ['Finance', 'Staff'],
  roles: ['finance.write'],
  amr: ['pwd'],
};

function sign(
  payload: Record<string, unknown> = {},
  options: { key?: KeyObject; kid?: string | null; exp?: number } = {},
): Promise<string> {
  const kid = options.kid === undefined ? 'k1' : options.kid;
  return new SignJWT({ ...claims, ...payload })
    .setProtectedHeader({ alg: 'ES256', ...(kid !== null ? { kid } : {}) })
    .setIssuedAt(now - 10)
    .setExpirationTime(options.exp ?? now + 300)
    .sign(options.key ?? steward.privateKey);
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('verifyIdentity', () => {
  it('table: only a good token names a user', async () => {
    const keys = parseKeySet(await keySet, 'test');
    const good = await sign();
    const [h, p, s] = good.split('.') as [string, string, string];
    const cases: [string, string | undefined, Verification['kind'], string?][] = [
      ['missing', undefined, 'anonymous'],
      ['valid', good, 'signed-in'],
      ['valid, signed with the next key', await sign({}, { key: next.privateKey, kid: 'k2' }), 'signed-in'],
      [
        'forged payload (signature of another)',
        `${h}.${b64({ ...claims, roles: ['admin'], exp: now + 300 })}.${s}`,
        'refused',
        'signature',
      ],
      ['alg none, no signature', `${b64({ alg: 'none' })}.${p}.`, 'refused', 'malformed'],
      [
        'alg none, with a signature part',
        `${b64({ alg: 'none', kid: 'k1' })}.${p}.${s}`,
        'refused',
        'algorithm',
      ],
      ['alg HS256 (key confusion)', `${b64({ alg: 'HS256', kid: 'k1' })}.${p}.${s}`, 'refused', 'algorithm'],
      [
        'another key under a known kid',
        await sign({}, { key: stranger.privateKey, kid: 'k1' }),
        'refused',
        'signature',
      ],
      ['an unknown kid', await sign({}, { key: stranger.privateKey, kid: 'k9' }), 'refused', 'unknown_key'],
      ['no kid among several keys', await sign({}, { kid: null }), 'refused', 'unknown_key'],
      ['expired', await sign({}, { exp: now - 60 }), 'refused', 'expired'],
      ['expired within the leeway', await sign({}, { exp: now - 2 }), 'signed-in'],
      ['not yet valid', await sign({ nbf: now + 120 }), 'refused', 'not_yet_valid'],
      ['wrong stage', await sign({ stage: 'dev' }), 'refused', 'stage'],
      ['wrong tenant', await sign({ tenant: 'globex' }), 'refused', 'tenant'],
      ['wrong issuer', await sign({ iss: 'someone' }), 'refused', 'issuer'],
      ['no tenant', await sign({ tenant: undefined }), 'refused', 'tenant'],
      ['groups not a list', await sign({ groups: 'Finance' }), 'refused', 'claims'],
      ['no sub', await sign({ sub: undefined }), 'refused', 'claims'],
      ['truncated signature', `${h}.${p}.${s.slice(0, 40)}`, 'refused', 'signature'],
      ['two tokens joined', `${good},${good}`, 'refused', 'malformed'],
      ['not a JWS', 'Bearer abc', 'refused', 'malformed'],
      ['huge', 'a'.repeat(20_000), 'refused', 'malformed'],
    ];
    for (const [what, token, kind, reason] of cases) {
      const result = verifyIdentity(token, keys, expected);
      expect(result.kind, what).toBe(kind);
      if (reason) expect(result.kind === 'refused' && result.reason, what).toBe(reason);
    }
    expect(verifyIdentity(good, [], expected)).toMatchObject({ kind: 'refused', reason: 'no_keys' });
    expect(verifyIdentity(good, keys, expected)).toEqual({
      kind: 'signed-in',
      identity: {
        authenticated: true,
        id: '0b6f-user',
        userName: 'ann',
        email: 'ann@acme.example',
        name: 'Ann Example',
        groups: ['Finance', 'Staff'],
        roles: ['finance.write'],
        groupsOverage: false,
      },
    });
  });

  it('reads only P-256 signing keys from the set, and says what is wrong with a bad one', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const mixed = JSON.parse(await keySet) as { keys: object[] };
    mixed.keys.push(
      { ...(await exportJWK(publicKey)), kid: 'rsa' },
      { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'bad' },
    );
    expect(() => parseKeySet(JSON.stringify(mixed), 'STEWARD_IDENTITY_JWKS')).toThrow(
      /STEWARD_IDENTITY_JWKS: key "bad" is not a valid P-256 public key/,
    );
    mixed.keys.pop();
    expect(parseKeySet(JSON.stringify(mixed), 'X').map((k) => k.kid)).toEqual(['k1', 'k2']);
    expect(() => parseKeySet('{', 'STEWARD_IDENTITY_JWKS')).toThrow(ConfigError);
    expect(() => parseKeySet('{"kids":[]}', 'STEWARD_IDENTITY_JWKS')).toThrow(/has no "keys" list/);
  });
});

describe('IdentityVerifier', () => {
  it('remembers a verified token until its own exp, and not a moment after', async () => {
    const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    let clock = Date.now();
    const verifier = new IdentityVerifier({
      tenant: 'acme',
      stage: 'prod',
      now: () => clock,
      jwks: await keySet,
      jwksUrl: undefined,
      logger,
    });
    const exp = Math.floor(clock / 1000) + 60;
    const token = await sign({}, { exp });
    const header = { 'x-steward-identity': token };
    expect((await verifier.identityOf(header)).identity.authenticated).toBe(true);
    clock = (exp - 1) * 1000;
    expect((await verifier.identityOf(header)).identity.authenticated).toBe(true);
    // Past exp the remembered verification no longer counts: the token is checked again, and refused.
    clock = (exp + 10) * 1000;
    expect(await verifier.identityOf(header)).toMatchObject({
      identity: { authenticated: false },
      refused: 'expired',
    });
    // A token of another stage is never remembered as good.
    const other = await sign({ stage: 'dev' });
    clock = Date.now();
    expect((await verifier.identityOf({ 'x-steward-identity': other })).refused).toBe('stage');
    expect((await verifier.identityOf({ 'x-steward-identity': other })).refused).toBe('stage');
  });

  it('fetches the key set from a URL, again for a new kid, and logs refusals without the token', async () => {
    let served = await jwks(['k1', steward.publicKey]);
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(served);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const lines: string[] = [];
    const log = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
      lines.push(JSON.stringify({ level, msg, ...fields }));
    const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    try {
      let clock = Date.now();
      const verifier = new IdentityVerifier({
        tenant: 'acme',
        stage: 'prod',
        now: () => clock,
        jwks: undefined,
        jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.steward/auth/jwks.json`,
        logger,
      });
      const first = await verifier.identityOf({ 'x-steward-identity': await sign() });
      expect(first).toMatchObject({ identity: { authenticated: true, id: '0b6f-user' }, refused: null });
      // The key rotates: a token under the next kid makes the verifier fetch again (once per 30 s at most).
      served = await jwks(['k1', steward.publicKey], ['k2', next.publicKey]);
      const rotated = await sign({}, { key: next.privateKey, kid: 'k2' });
      expect((await verifier.identityOf({ 'x-steward-identity': rotated })).refused).toBe('unknown_key');
      expect(fetches).toBe(1);
      clock += 31_000;
      expect(await verifier.identityOf({ 'x-steward-identity': rotated })).toMatchObject({
        identity: { authenticated: true },
        refused: null,
      });
      expect(fetches).toBe(2);
      const forged = `${rotated.slice(0, -8)}AAAAAAAA`;
      expect(await verifier.identityOf({ 'x-steward-identity': forged })).toMatchObject({
        identity: { authenticated: false, id: 'anonymous' },
      });
      expect(await verifier.identityOf({})).toEqual(expect.objectContaining({ refused: null }));
      const refusals = lines.filter((l) => l.includes('identity header refused'));
      expect(refusals.length).toBe(2);
      expect(refusals[0]).toContain('"reason":"unknown_key"');
      for (const line of lines) expect(line).not.toContain(rotated.split('.')[2]!.slice(0, 20));
      expect(
        () =>
          new IdentityVerifier({
            tenant: 'a',
            stage: 'b',
            jwks: undefined,
            jwksUrl: 'file:///etc/passwd',
            logger,
          }),
      ).toThrow(/LEDGER_IDENTITY_JWKS_URL is "file:\/\/\/etc\/passwd"; expected an http\(s\) URL/);
    } finally {
      server.close();
    }
  });
});
