import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { groupsClaim, joinValue, joinValueVerified } from '../../../src/identity/oidc/claims.ts';
import { addConnectionSchema, resolveConnection } from '../../../src/identity/oidc/connections.ts';
import { openFlow, sealFlow, type OidcFlow } from '../../../src/identity/oidc/flow-cookie.ts';
import {
  discoveredIssuer,
  entraTokenEndpoint,
  issuerTrust,
  tokenIssuer,
  type ConnectionKind,
} from '../../../src/identity/oidc/issuer.ts';
import { planJoin, type JoinObserved, type JoinUser } from '../../../src/identity/oidc/join.ts';
import { safeReturnTo } from '../../../src/identity/oidc/service.ts';

const tidA = '11111111-1111-4111-8111-111111111111';
const tidB = '22222222-2222-4222-8222-222222222222';
const ms = 'https://login.microsoftonline.com';

describe('issuer trust', () => {
  const accepted: [ConnectionKind, string, string[], string][] = [
    ['entra', `${ms}/${tidA}/v2.0`, [], `exact ${ms}/${tidA}/v2.0 tid ${tidA}`],
    ['entra', `https://sts.windows.net/${tidA}/`, [], `exact https://sts.windows.net/${tidA}/ tid ${tidA}`],
    ['entra', `${ms}/${tidA}/v2.0`, [tidA], `exact ${ms}/${tidA}/v2.0 tid ${tidA}`],
    ['entra', `${ms}/organizations/v2.0`, [tidA, tidB], `template ${ms}/{tenantid}/v2.0 ${tidA},${tidB}`],
    ['entra', `${ms}/common/v2.0`, [tidA], `template ${ms}/{tenantid}/v2.0 ${tidA}`],
    [
      'entra',
      `https://login.microsoftonline.us/common/v2.0`,
      [tidA],
      `template https://login.microsoftonline.us/{tenantid}/v2.0 ${tidA}`,
    ],
    ['okta', 'https://acme.okta.com', [], 'exact https://acme.okta.com tid null'],
    [
      'okta',
      'https://acme.okta.com/oauth2/default',
      [],
      'exact https://acme.okta.com/oauth2/default tid null',
    ],
    [
      'okta',
      'https://acme.okta.com/oauth2/aus1a2b3c4',
      [],
      'exact https://acme.okta.com/oauth2/aus1a2b3c4 tid null',
    ],
    ['generic', 'https://idp.example/realms/acme', [], 'exact https://idp.example/realms/acme tid null'],
  ];
  it.each(accepted)('%s %s %j', (kind, issuer, tids, expected) => {
    const trust = issuerTrust(kind, issuer, tids);
    const shown =
      trust.kind === 'exact'
        ? `exact ${trust.issuer} tid ${trust.tid}`
        : `template ${trust.template} ${trust.allowedTids.join(',')}`;
    expect(shown).toBe(expected);
  });

  const refused: [ConnectionKind, string, string[], string, RegExp][] = [
    ['entra', `${ms}/common/v2.0`, [], 'allowedTids', /"any tenant" is never accepted/],
    ['entra', `${ms}/organizations/v2.0`, [], 'allowedTids', /needs the list of tenant ids/],
    ['entra', `${ms}/consumers/v2.0`, [tidA], 'issuer', /neither a tenant id nor common\/organizations/],
    ['entra', `${ms}/common/`, [tidA], 'issuer', /neither a tenant id/],
    ['entra', `${ms}/${tidA}/v2.0`, [tidB], 'allowedTids', /single-tenant/],
    ['entra', `${ms}/common/v2.0`, ['ACME'], 'allowedTids', /"ACME" is not an Entra tenant id/],
    ['entra', `${ms}/v2.0`, [], 'issuer', /not an Entra issuer/],
    ['entra', `http://login.microsoftonline.com/${tidA}/v2.0`, [], 'issuer', /https:\/\//],
    ['okta', 'https://acme.okta.com/', [], 'issuer', /no trailing slash/],
    ['okta', 'https://acme.okta.com/oauth2/default/', [], 'issuer', /not an Okta issuer/],
    ['okta', 'https://acme.okta.com/other', [], 'issuer', /not an Okta issuer/],
    ['generic', 'https://idp.example/?x=1', [], 'issuer', /without query/],
    ['generic', 'not a url', [], 'issuer', /is not a URL/],
    ['generic', 'https://idp.example', [tidA], 'allowedTids', /only a connection of kind entra/],
  ];
  it.each(refused)('refuses %s %s %j (field %s)', (kind, issuer, tids, field, message) => {
    let error: unknown;
    try {
      issuerTrust(kind, issuer, tids);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe(field);
    expect((error as InputError).message).toMatch(message);
  });

  it('discovery names the template for multi-tenant, the issuer otherwise', () => {
    expect(discoveredIssuer(issuerTrust('entra', `${ms}/common/v2.0`, [tidA]))).toBe(`${ms}/{tenantid}/v2.0`);
    expect(discoveredIssuer(issuerTrust('okta', 'https://a.okta.com', []))).toBe('https://a.okta.com');
    expect(entraTokenEndpoint(`${ms}/common/v2.0`, tidA)).toBe(`${ms}/${tidA}/oauth2/v2.0/token`);
    expect(entraTokenEndpoint(`https://sts.windows.net/${tidA}/`, tidA)).toBe(
      `${ms}/${tidA}/oauth2/v2.0/token`,
    );
  });
});

describe('token issuer and tid allow-list', () => {
  const multi = issuerTrust('entra', `${ms}/organizations/v2.0`, [tidA]);
  const single = issuerTrust('entra', `${ms}/${tidA}/v2.0`, []);
  const generic = issuerTrust('generic', 'https://idp.example', []);
  const cases: [string, ReturnType<typeof issuerTrust>, unknown, string][] = [
    ['multi, listed tid', multi, tidA, `ok ${ms}/${tidA}/v2.0`],
    ['multi, unlisted tid', multi, tidB, 'not_allowed'],
    ['multi, no tid', multi, undefined, 'idp_error'],
    ['multi, tid not a guid', multi, '{tenantid}', 'idp_error'],
    ['multi, tid not a string', multi, 42, 'idp_error'],
    ['single, its tid', single, tidA, `ok ${ms}/${tidA}/v2.0`],
    ['single, another tid', single, tidB, 'not_allowed'],
    ['generic, no tid', generic, undefined, 'ok https://idp.example'],
  ];
  it.each(cases)('%s', (_name, trust, tid, expected) => {
    const check = tokenIssuer(trust, tid);
    expect(check.ok ? `ok ${check.issuer}` : check.reason).toBe(expected);
  });
});

describe('claims', () => {
  const overage = {
    _claim_names: { groups: 'src1' },
    _claim_sources: { src1: { endpoint: 'https://graph' } },
  };
  const cases: [string, Record<string, unknown>, string][] = [
    ['listed', { groups: ['a', 'b'] }, 'listed 2'],
    ['none', {}, 'none 0'],
    ['distributed claim (code flow overage)', overage, 'overage 0'],
    ['hasgroups (implicit flow overage)', { hasgroups: true }, 'overage 0'],
    ['hasgroups as a string', { hasgroups: 'true' }, 'overage 0'],
    ['non-strings dropped', { groups: ['a', 3, null, ''] }, 'listed 1'],
    ['a distributed claim for another name', { _claim_names: { roles: 'src1' } }, 'none 0'],
  ];
  it.each(cases)('groups: %s', (_name, claims, expected) => {
    const g = groupsClaim(claims, 'groups');
    expect(`${g.kind} ${g.kind === 'none' ? 0 : g.groups.length}`).toBe(expected);
  });

  it('join value and verification', () => {
    expect(joinValue({ email: ' A@B.example ' }, 'email')).toBe('A@B.example');
    expect(joinValue({ email: 7 }, 'email')).toBeUndefined();
    expect(joinValue({ upn: 'x'.repeat(257) }, 'upn')).toBeUndefined();
    expect(joinValueVerified({ email_verified: false }, 'email')).toBe(false);
    expect(joinValueVerified({}, 'email')).toBe(true);
    expect(joinValueVerified({ email_verified: false }, 'preferred_username')).toBe(true);
  });
});

describe('join', () => {
  const ada: JoinUser = { id: 'u1', userName: 'Ada@Acme.example', email: 'ada@acme.example', active: true };
  const bob: JoinUser = { id: 'u2', userName: 'bob', email: 'shared@acme.example', active: true };
  const eve: JoinUser = { id: 'u3', userName: 'eve', email: 'shared@acme.example', active: true };
  const off: JoinUser = { id: 'u4', userName: 'off@acme.example', email: null, active: false };
  const base: JoinObserved = {
    linked: undefined,
    claim: 'email',
    value: 'ada@acme.example',
    verified: true,
    candidates: [],
    provision: false,
  };
  const cases: [string, Partial<JoinObserved>, string][] = [
    ['linked subject wins', { linked: bob, candidates: [ada] }, 'user u2 link=false'],
    ['linked but inactive', { linked: off }, 'refuse inactive'],
    ['userName, any case', { value: 'ADA@acme.example', candidates: [ada] }, 'user u1 link=true'],
    ['userName beats e-mail', { value: 'bob', candidates: [eve, bob] }, 'user u2 link=true'],
    ['by e-mail', { value: 'Shared@Acme.example', candidates: [bob] }, 'user u2 link=true'],
    [
      'two users share the e-mail',
      { value: 'shared@acme.example', candidates: [bob, eve] },
      'refuse not_allowed',
    ],
    ['inactive match', { value: 'off@acme.example', candidates: [off] }, 'refuse inactive'],
    ['no match', {}, 'refuse not_allowed'],
    ['no match, provisioning', { provision: true }, 'provision ada@acme.example'],
    ['no claim', { value: undefined, provision: true }, 'refuse not_allowed'],
    ['unverified e-mail', { verified: false, candidates: [ada], provision: true }, 'refuse not_allowed'],
  ];
  it.each(cases)('%s', (_name, change, expected) => {
    const plan = planJoin({ ...base, ...change });
    const shown =
      plan.kind === 'user'
        ? `user ${plan.user.id} link=${plan.link}`
        : plan.kind === 'provision'
          ? `provision ${plan.userName}`
          : `refuse ${plan.reason}`;
    expect(shown).toBe(expected);
  });
});

describe('connection input', () => {
  const input = {
    name: 'entra',
    kind: 'entra',
    issuer: `${ms}/common/v2.0`,
    clientId: 'c',
    clientSecret: 's',
  };
  it('fills defaults by kind', () => {
    const c = resolveConnection(addConnectionSchema.parse({ ...input, allowedTids: [tidA] }));
    expect(c.joinClaim).toBe('preferred_username');
    expect(c.label).toBe('Microsoft');
    expect(c.scopes).toEqual(['openid', 'email', 'profile']);
    const okta = resolveConnection(
      addConnectionSchema.parse({ ...input, kind: 'okta', issuer: 'https://a.okta.com' }),
    );
    expect(okta.joinClaim).toBe('email');
  });
  it('refuses a Graph URL that is not an origin, and scopes without openid', () => {
    expect(() =>
      resolveConnection(
        addConnectionSchema.parse({ ...input, allowedTids: [tidA], graphUrl: 'https://g/v1.0' }),
      ),
    ).toThrow(/field "graphUrl"/);
    expect(() =>
      resolveConnection(addConnectionSchema.parse({ ...input, allowedTids: [tidA], scopes: ['email'] })),
    ).toThrow(/field "scopes".*openid/);
  });
});

describe('flow cookie and return path', () => {
  const keys = (id: string) => {
    const active = { id, key: randomBytes(32) };
    return { active, byId: (k: string) => (k === id ? active : undefined) };
  };
  const flow: OidcFlow = {
    v: 1,
    connection: 'c',
    tenantId: '1',
    stage: 'prod',
    host: 'acme.example',
    state: 's',
    nonce: 'n',
    verifier: 'v',
    returnTo: '/',
    expiresAt: 1000,
  };
  it('opens what it sealed, refuses tampering, other keys and expiry', () => {
    const k = keys('k1');
    const sealed = sealFlow(k, flow);
    expect(sealed).not.toContain('"nonce"');
    expect(openFlow(k, sealed, 999)).toEqual({ ok: true, flow });
    expect(openFlow(k, sealed, 1000)).toMatchObject({ ok: false, detail: expect.stringMatching(/too long/) });
    const flipped = `${sealed.slice(0, -2)}${sealed.endsWith('A') ? 'B' : 'A'}${sealed.slice(-1)}`;
    expect(openFlow(k, flipped, 999).ok).toBe(false);
    expect(openFlow(keys('k1'), sealed, 999).ok).toBe(false);
    expect(openFlow(k, undefined, 999)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/missing/),
    });
  });
  it.each([
    ['/app?x=1', '/app?x=1'],
    ['//evil.example/', '/'],
    ['/\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['/a\r\nSet-Cookie: x', '/'],
  ])('return path %j -> %j', (given, expected) => {
    expect(safeReturnTo(given)).toBe(expected);
  });
});
