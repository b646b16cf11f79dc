import { describe, expect, it } from 'vitest';
import { csrfAccepted, newCsrfToken } from '../../src/identity/pages/csrf.ts';
import { loginPage } from '../../src/identity/pages/html.ts';
import {
  buildClaims,
  edgeDecision,
  maxTokenGroups,
  planRefresh,
  safeReturnPath,
  resolveSettings,
  type EdgeRequest,
} from '../../src/identity/sessions/index.ts';
import { authEntries } from '../../src/dataplane/auth-files.ts';
import { authRules, checkEdgeAuth } from '../../src/dataplane/auth-rules.ts';
import { identitySettingsPatch } from '../../src/identity/sessions/settings.ts';

/** The edge session's pure parts: what HAProxy decides, the claims, refresh, return paths, CSRF, settings. */
describe('edgeDecision', () => {
  const cases: [EdgeRequest, ReturnType<typeof edgeDecision>][] = [
    [
      { mode: 'off', method: 'GET', token: 'none' },
      { kind: 'pass', identity: false },
    ],
    [
      { mode: 'off', method: 'GET', token: 'valid' },
      { kind: 'pass', identity: false },
    ],
    [
      { mode: 'optional', method: 'POST', token: 'none' },
      { kind: 'pass', identity: false },
    ],
    [
      { mode: 'optional', method: 'POST', token: 'bad-signature' },
      { kind: 'pass', identity: false },
    ],
    [
      { mode: 'optional', method: 'GET', token: 'valid' },
      { kind: 'pass', identity: true },
    ],
    [
      { mode: 'optional', method: 'GET', token: 'expired' },
      { kind: 'redirect', to: 'refresh' },
    ],
    [
      { mode: 'optional', method: 'POST', token: 'expired' },
      { kind: 'pass', identity: false },
    ],
    [
      { mode: 'optional', method: 'GET', fetchMode: 'cors', token: 'expired' },
      { kind: 'pass', identity: false },
    ],
    [
      { mode: 'required', method: 'GET', token: 'valid' },
      { kind: 'pass', identity: true },
    ],
    [
      { mode: 'required', method: 'GET', token: 'none' },
      { kind: 'redirect', to: 'login' },
    ],
    [
      { mode: 'required', method: 'HEAD', token: 'other-host' },
      { kind: 'redirect', to: 'login' },
    ],
    [
      { mode: 'required', method: 'GET', token: 'revoked' },
      { kind: 'redirect', to: 'login' },
    ],
    [
      { mode: 'required', method: 'GET', token: 'other-tenant' },
      { kind: 'redirect', to: 'login' },
    ],
    [
      { mode: 'required', method: 'GET', token: 'expired' },
      { kind: 'redirect', to: 'refresh' },
    ],
    [
      { mode: 'required', method: 'GET', fetchMode: 'navigate', token: 'expired' },
      { kind: 'redirect', to: 'refresh' },
    ],
    [{ mode: 'required', method: 'GET', fetchMode: 'cors', token: 'none' }, { kind: 'unauthorized' }],
    [{ mode: 'required', method: 'POST', token: 'expired' }, { kind: 'unauthorized' }],
    [{ mode: 'required', method: 'DELETE', token: 'none' }, { kind: 'unauthorized' }],
  ];
  it.each(cases)('%j -> %j', (request, decision) => {
    expect(edgeDecision(request)).toEqual(decision);
  });

  it('is what the HAProxy rules render: the same redirects, the 401, the identity header', () => {
    const text = authRules(
      { errorDir: '/d/pages' },
      { signInMap: '/d/s.map', revokedMap: '/d/r.map', keys: [{ kid: 'k1', file: '/d/k1.pem' }] },
      'acme',
    ).join('\n');
    expect(text).toContain(
      'jwt_verify(ES256,"/d/k1.pem") if signin_on has_session !sess_verified { var(txn.sess_kid) -m str k1 }',
    );
    expect(text).toContain('redirect location /.steward/auth/refresh?rd=%[var(txn.rd)] code 302');
    expect(text).toContain('redirect location /.steward/auth/login?rd=%[var(txn.rd)] code 302');
    expect(text).toContain('http-request return status 401');
    expect(text).toContain('acl sess_tenant_ok var(txn.sess_tenant) -m str acme');
    expect(text).toMatch(
      /del-header X-Steward-Identity\n.*set-header X-Steward-Identity %\[var\(txn.sess\)\] if signin_on sess_ours sess_live/,
    );
  });
});

describe('checkEdgeAuth', () => {
  it('refuses a bad key or path by name', () => {
    const auth = { signInMap: '/d/s.map', revokedMap: '/d/r.map', keys: [{ kid: 'k1', file: '/d/k1.pem' }] };
    expect(() => checkEdgeAuth({ ...auth, keys: [] })).toThrow(/auth.keys has 0 keys: give from 1 to 8/);
    expect(() => checkEdgeAuth({ ...auth, keys: [{ kid: 'K 1', file: '/d/k1.pem' }] })).toThrow(
      /auth.keys\[0\].kid/,
    );
    expect(() => checkEdgeAuth({ ...auth, revokedMap: 'relative.map' })).toThrow(/auth.revokedMap/);
  });
});

describe('buildClaims', () => {
  const base = {
    subject: 'u1',
    userName: 'alice',
    email: 'alice@acme.example',
    name: 'Alice',
    roles: ['writer', 'reader', 'writer'],
    sid: 's1',
    tenant: 'acme',
    stage: 'prod',
    host: 'acme.example.com',
    amr: ['pwd', 'otp'],
    now: new Date('2026-12-07T10:00:00Z'),
    notAfter: new Date('2026-12-07T22:00:00Z'),
  };

  it('is short-lived, never past the session, with roles whole and sorted', () => {
    const claims = buildClaims({ ...base, groups: ['b', 'a'] });
    expect(claims).toMatchObject({
      iss: 'steward',
      sub: 'u1',
      exp: claims.iat + 300,
      groups: ['a', 'b'],
      roles: ['reader', 'writer'],
    });
    expect(claims.groups_overage).toBeUndefined();
    const ending = buildClaims({ ...base, groups: [], notAfter: new Date('2026-12-07T10:01:00Z') });
    expect(ending.exp - ending.iat).toBe(60);
  });

  it('cuts the groups past the limit and says so', () => {
    const many = Array.from({ length: 250 }, (_, i) => `group-${String(i).padStart(3, '0')}`);
    const claims = buildClaims({ ...base, groups: many });
    expect(claims.groups).toHaveLength(maxTokenGroups);
    expect(claims.groups_overage).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(claims))).toBeLessThan(2500);
    expect(buildClaims({ ...base, groups: ['x'.repeat(65)] }).groups_overage).toBe(true);
  });
});

describe('planRefresh', () => {
  const now = new Date('2026-12-07T10:00:00Z');
  const live = {
    revokedAt: null,
    idleExpiresAt: new Date('2026-12-07T10:30:00Z'),
    absoluteExpiresAt: new Date('2026-12-07T20:00:00Z'),
  };
  it.each([
    [live, { active: true }, { kind: 'mint' }],
    [live, 'not-a-user' as const, { kind: 'mint' }],
    [undefined, { active: true }, { kind: 'sign-in-again', why: 'unknown' }],
    [{ ...live, revokedAt: now }, { active: true }, { kind: 'sign-in-again', why: 'revoked' }],
    [
      { ...live, idleExpiresAt: now },
      { active: true },
      { kind: 'sign-in-again', why: 'idle', revoke: 'expired' },
    ],
    [
      { ...live, absoluteExpiresAt: now },
      { active: true },
      { kind: 'sign-in-again', why: 'expired', revoke: 'expired' },
    ],
    [live, { active: false }, { kind: 'sign-in-again', why: 'inactive', revoke: 'deactivated' }],
    [live, undefined, { kind: 'sign-in-again', why: 'inactive', revoke: 'deleted' }],
  ] as const)('%j, user %j -> %j', (session, user, plan) => {
    expect(planRefresh(session, user, now)).toEqual(plan);
  });
});

describe('safeReturnPath', () => {
  it.each([
    ['/books?a=1', '/books?a=1'],
    [undefined, '/'],
    ['', '/'],
    ['//evil.example/', '/'],
    ['/\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['books', '/'],
    ['/a\tb', '/'],
    ['/.steward/auth/logout', '/'],
    ['/'.padEnd(3000, 'a'), '/'],
  ])('%j -> %j', (rd, path) => {
    expect(safeReturnPath(rd)).toBe(path);
  });
});

describe('the sign-in pages', () => {
  const key = Buffer.alloc(32, 7);
  it('accepts a POST only with its own host as Origin and the cookie token in the form', () => {
    const token = newCsrfToken(key, 'acme.example.com');
    const input = {
      host: 'acme.example.com',
      hostHeader: 'acme.example.com',
      origin: 'https://acme.example.com',
      cookie: token,
      form: token,
    };
    expect(csrfAccepted(key, input)).toBe(true);
    expect(csrfAccepted(key, { ...input, origin: undefined })).toBe(false);
    expect(csrfAccepted(key, { ...input, origin: 'https://evil.example' })).toBe(false);
    expect(csrfAccepted(key, { ...input, form: newCsrfToken(key, 'acme.example.com') })).toBe(false);
    // A token made for another host (another tenant's) is worthless here.
    const other = newCsrfToken(key, 'globex.example.com');
    expect(csrfAccepted(key, { ...input, cookie: other, form: other })).toBe(false);
    expect(csrfAccepted(Buffer.alloc(32, 8), input)).toBe(false);
  });

  it('escapes what it shows and names only its own tenant', () => {
    const html = loginPage(
      { title: 'Sign in', tenantName: 'Acme <Corp>' },
      {
        csrf: 'c',
        rd: '/"><script>',
        local: true,
        oidc: [{ name: 'entra', label: 'Microsoft <Entra>' }],
        userName: '"><b>',
      },
    );
    expect(html).toContain('Acme &#60;Corp&#62;');
    expect(html).not.toMatch(/<script>|<b>|<Entra>/);
    expect(html).toContain('action="/.steward/auth/oidc/entra"');
    expect(html).toContain('autocomplete="current-password"');
  });
});

describe('identity settings', () => {
  it('takes the stage over the tenant over the defaults (off: nothing changes)', () => {
    expect(resolveSettings(undefined, undefined)).toEqual({
      localUsers: false,
      signIn: 'off',
      idleMinutes: 60,
      absoluteHours: 12,
    });
    const tenant = { localUsers: true, signIn: 'optional' as const, idleMinutes: null, absoluteHours: 8 };
    const stage = { localUsers: null, signIn: 'required' as const, idleMinutes: 15, absoluteHours: null };
    expect(resolveSettings(tenant, stage)).toEqual({
      localUsers: true,
      signIn: 'required',
      idleMinutes: 15,
      absoluteHours: 8,
    });
  });

  it('refuses a bad value by name', () => {
    const bad = identitySettingsPatch.safeParse({ signIn: 'sometimes' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues[0]?.path)).toBe('["signIn"]');
    expect(identitySettingsPatch.safeParse({ idleMinutes: 0 }).success).toBe(false);
    expect(identitySettingsPatch.safeParse({ absoluteHours: 1.5 }).success).toBe(false);
  });

  it('maps only stages that ask for sign-in into the edge map, revoked sids once each', () => {
    const stage = (backend: string, tenant: string, name: string) => ({
      backend,
      stageId: backend,
      tenant,
      tier: 'shared',
      stage: name,
      publishedPort: 1,
      allowFrom: null,
      maintenance: false,
    });
    const entries = authEntries(
      {
        keys: [],
        signIn: [
          { tenant: 'acme', stage: 'prod', mode: 'required' },
          { tenant: 'gone', stage: 'prod', mode: 'optional' },
        ],
        revoked: ['b', 'a', 'b'],
      },
      [stage('st_2', 'acme', 'prod'), stage('st_1', 'acme', 'dev')],
    );
    expect(entries).toEqual({
      signIn: [{ key: 'st_2', value: 'required' }],
      revoked: [
        { key: 'a', value: '1' },
        { key: 'b', value: '1' },
      ],
    });
  });
});
