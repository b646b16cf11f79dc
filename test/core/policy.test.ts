import { describe, expect, it } from 'vitest';
import {
  can,
  permissions,
  roleCovers,
  roles,
  tenantAdminRefusal,
  type Principal,
  type RouteAccess,
} from '../../src/core/policy.ts';
import {
  checkReason,
  grantState,
  looksLikeLinkToken,
  newLinkToken,
  redeemRefusal,
} from '../../src/identity/admins/rules.ts';

/** The policy table and the tenant admin's route check: pure, so the breadth lives here. */
const admin = (slug: string, mfa = true): Pick<Principal, 'kind' | 'tenant'> => ({
  kind: 'tenant-admin',
  tenant: { id: '7', slug, mfa },
});
const operator: Pick<Principal, 'kind' | 'tenant'> = { kind: 'operator' };

describe('the policy table', () => {
  it('grants each role exactly its permissions', () => {
    const table = Object.fromEntries(roles.map((r) => [r, permissions.filter((p) => can(r, p))]));
    expect(table).toEqual({
      owner: [...permissions],
      operator: permissions.filter((p) => p !== 'operators.write' && p !== 'secrets.rotate'),
      auditor: [
        'tenants.read',
        'audit.read',
        'operators.read',
        'tokens.self',
        'identity.read',
        'settings.read',
      ],
      'tenant-admin': ['tenants.read', 'tokens.self', 'identity.read', 'identity.write', 'exports.download'],
    });
  });

  it('never lets a tenant admin hold an operator role or an operator a tenant admin one', () => {
    const cases: [string, string, boolean][] = [
      ['owner', 'auditor', true],
      ['auditor', 'owner', false],
      ['tenant-admin', 'tenant-admin', true],
      ['tenant-admin', 'auditor', false],
      ['tenant-admin', 'owner', false],
      ['owner', 'tenant-admin', false],
    ];
    for (const [holder, requested, covers] of cases) {
      expect(roleCovers(holder as never, requested as never), `${holder} covers ${requested}`).toBe(covers);
    }
  });
});

describe("a tenant admin's routes", () => {
  const r = (url: string, permission: RouteAccess['permission'], tenantAdmin?: true): RouteAccess => ({
    url,
    permission,
    tenantAdmin,
  });
  const cases: [
    string,
    Pick<Principal, 'kind' | 'tenant'>,
    RouteAccess,
    Record<string, string>,
    RegExp | undefined,
  ][] = [
    ['an operator is not asked', operator, r('/api/v1/operators', 'operators.write'), {}, undefined],
    ['public routes stay public', admin('acme'), r('/api/v1/auth/login', 'public'), {}, undefined],
    [
      'its own tenant, a marked route',
      admin('acme'),
      r('/api/v1/tenants/:tenant/admins', 'tenants.read', true),
      { tenant: 'acme' },
      undefined,
    ],
    [
      'another tenant',
      admin('acme'),
      r('/api/v1/tenants/:tenant/admins', 'tenants.read', true),
      { tenant: 'globex' },
      /only call routes of tenant acme/,
    ],
    [
      'another tenant, case folded',
      admin('acme'),
      r('/api/v1/tenants/:tenant/admins', 'tenants.read', true),
      { tenant: 'ACME' },
      /only call routes of tenant acme/,
    ],
    [
      'no tenant parameter given',
      admin('acme'),
      r('/api/v1/tenants/:tenant/admins', 'tenants.read', true),
      {},
      /only call routes of tenant acme/,
    ],
    [
      'an unmarked route of its tenant',
      admin('acme'),
      r('/api/v1/tenants/:tenant/stages/:stage/credentials', 'credentials.read'),
      { tenant: 'acme', stage: 'prod' },
      /for Steward's operators/,
    ],
    ['a global route', admin('acme'), r('/api/v1/tenants', 'tenants.read'), {}, /for Steward's operators/],
    [
      'a marked global route is still refused',
      admin('acme'),
      r('/api/v1/incidents', 'tenants.read', true),
      {},
      /routes of its own tenant/,
    ],
    [
      'its own account',
      admin('acme', false),
      r('/api/v1/auth/mfa/enroll', 'authenticated', true),
      {},
      undefined,
    ],
    [
      'its own tokens',
      admin('acme', false),
      r('/api/v1/tokens/:id', 'tokens.self', true),
      { id: '3' },
      undefined,
    ],
    [
      'its tenant before TOTP',
      admin('acme', false),
      r('/api/v1/tenants/:tenant/admins', 'tenants.read', true),
      { tenant: 'acme' },
      /enrol MFA first/,
    ],
    [
      'a tenant admin without a tenant',
      { kind: 'tenant-admin' },
      r('/api/v1/auth/whoami', 'authenticated', true),
      {},
      /no tenant/,
    ],
  ];
  for (const [name, principal, route, params, refused] of cases) {
    it(name, () => {
      const answer = tenantAdminRefusal(principal, route, params);
      if (refused) expect(answer).toMatch(refused);
      else expect(answer).toBeUndefined();
    });
  }
});

describe('break-glass rules', () => {
  const at = new Date('2026-12-07T10:00:00Z');
  const later = (minutes: number): Date => new Date(at.getTime() + minutes * 60_000);
  const grant = { tenantId: '1', stage: 'prod', linkUsedAt: null, expiresAt: later(60), closedAt: null };

  it('knows the state of a grant: closed before expired, active once used', () => {
    expect(grantState(grant, at)).toBe('unused');
    expect(grantState({ ...grant, linkUsedAt: at }, at)).toBe('active');
    expect(grantState(grant, later(60))).toBe('expired');
    expect(grantState({ ...grant, closedAt: at }, later(90))).toBe('closed');
  });

  it('opens a session once, on its own stage, while the grant lasts', () => {
    const place = { tenantId: '1', stage: 'prod' };
    expect(redeemRefusal(grant, place, at)).toBeUndefined();
    expect(redeemRefusal(grant, { tenantId: '1', stage: 'test' }, at)).toMatch(/another stage/);
    expect(redeemRefusal(grant, { tenantId: '2', stage: 'prod' }, at)).toMatch(/another stage/);
    expect(redeemRefusal({ ...grant, linkUsedAt: at }, place, at)).toMatch(/already used/);
    expect(redeemRefusal(grant, place, later(61))).toMatch(/expired/);
    expect(redeemRefusal({ ...grant, closedAt: at }, place, at)).toMatch(/closed/);
  });

  it('wants a reason the tenant can read', () => {
    expect(checkReason('  incident 42:   the app  500s on login ')).toBe(
      'incident 42: the app 500s on login',
    );
    expect(() => checkReason('because')).toThrow(
      /field "reason": "because" is not accepted: say why .* 10 to 500/,
    );
    expect(() => checkReason('x'.repeat(501))).toThrow(/field "reason"/);
    expect(() => checkReason('incident 42\u0007 bell')).toThrow(/control characters/);
  });

  it('tells link tokens apart by what they open', () => {
    const link = newLinkToken('breakGlass');
    expect(looksLikeLinkToken('breakGlass', link.token)).toBe(true);
    expect(looksLikeLinkToken('invitation', link.token)).toBe(false);
    expect(looksLikeLinkToken('breakGlass', `${link.token}x`)).toBe(false);
    expect(link.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(link.hash).not.toContain(link.token.slice(4, 20));
  });
});
