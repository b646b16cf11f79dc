import { describe, expect, it } from 'vitest';
import { areas, visiblePages, navEntries } from '../../app/registry.ts';
import { formatBytes } from '../ta-exports/rules.ts';
import { tokenState } from '../ta-scim/rules.ts';
import { recentPeriods } from '../ta-sla/periods.ts';
import { settingsPatch } from '../ta-sso/rules.ts';
import { actionsFor, userState } from '../ta-users/rules.ts';
import { consolePath, scopeRefusal } from './rules.ts';
import type { ScimTokenRow, UserRow } from './types.ts';

/** The tenant admin's pages (ta-*): their registry entries, texts and pure rules. */
const tenantAdmin = {
  role: 'tenant-admin',
  tenant: 'acme',
  permissions: [
    'tenants.read',
    'tokens.self',
    'identity.read',
    'identity.write',
    'exports.download',
  ] as const,
};

describe("the tenant admin's pages", () => {
  const ours = areas.filter((area) => area.pages.some((page) => page.audience === 'tenant-admin'));

  it('live under /t/:tenant/, for tenant admins only, and fill the nav with their own tenant', () => {
    const pages = ours.flatMap((area) => area.pages);
    expect(pages.length).toBeGreaterThanOrEqual(11);
    for (const page of pages) {
      expect(page.path).toMatch(/^\/t\/:tenant(\/|$)/);
      expect(page.audience).toBe('tenant-admin');
    }
    const operator = { role: 'owner', tenant: null, permissions: tenantAdmin.permissions };
    expect(visiblePages(pages, operator)).toEqual([]);
    const nav = navEntries(visiblePages(pages, tenantAdmin), tenantAdmin);
    // The first entry is the admin's home (the shell redirects / there): its tenant's status.
    expect(nav[0]?.href).toBe('/t/acme/status');
    expect(nav.map((entry) => entry.href)).toContain('/t/acme/scim');
    expect(nav.every((entry) => entry.section === 'tenant' && entry.href.startsWith('/t/acme'))).toBe(true);
  });

  it('have every text in English and German', () => {
    for (const area of areas.filter((a) => Object.keys(a.messages.en).some((key) => key.startsWith('ta.')))) {
      expect(Object.keys(area.messages.de).sort()).toEqual(Object.keys(area.messages.en).sort());
      for (const [key, text] of Object.entries(area.messages.de)) {
        // The same {slots} in both languages.
        const slots = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        expect(slots(text), key).toEqual(slots(area.messages.en[key] ?? ''));
      }
    }
  });
});

describe("a tenant admin's scope", () => {
  it("refuses another tenant's URL (and a principal with none)", () => {
    expect(scopeRefusal('acme', 'acme')).toBe('none');
    expect(scopeRefusal('acme', 'globex')).toBe('other-tenant');
    expect(scopeRefusal('acme', 'ACME')).toBe('other-tenant');
    expect(scopeRefusal(null, 'acme')).toBe('other-tenant');
    expect(consolePath('a b', 'incidents/7')).toBe('/t/a%20b/incidents/7');
    expect(consolePath('acme')).toBe('/t/acme');
  });
});

describe('the rules of the pages', () => {
  const user = (extra: Partial<UserRow>): UserRow => ({
    id: '1',
    userName: 'anna',
    email: 'anna@acme.example',
    displayName: null,
    active: true,
    source: 'local',
    groups: [],
    mfa: false,
    securityKeys: 0,
    mfaRequired: false,
    passwordSet: true,
    invitationPending: false,
    lockedUntil: null,
    lastSignInAt: null,
    ...extra,
  });
  const now = Date.parse('2026-12-07T10:00:00Z');

  it("offer a user's actions that apply to it", () => {
    expect(actionsFor(user({}))).toEqual(['reset-password', 'revoke-sessions', 'disable', 'delete']);
    expect(actionsFor(user({ passwordSet: false, mfa: true, active: false }))).toEqual([
      'invite',
      'reset-mfa',
      'revoke-sessions',
      'enable',
      'delete',
    ]);
    // A user its identity provider manages has no password here.
    expect(actionsFor(user({ source: 'scim' }))).toEqual(['revoke-sessions', 'disable', 'delete']);
    expect(userState(user({ active: false, invitationPending: true }), now)).toBe('disabled');
    expect(userState(user({ lockedUntil: '2026-12-07T10:05:00Z' }), now)).toBe('locked');
    expect(userState(user({ lockedUntil: '2026-12-07T09:55:00Z', invitationPending: true }), now)).toBe(
      'invited',
    );
  });

  it('tell active, revoked and expired SCIM tokens apart', () => {
    const token = (extra: Partial<ScimTokenRow>): ScimTokenRow => ({
      id: '1',
      tenant: 'acme',
      name: 'entra',
      createdBy: 'x',
      createdAt: '2026-01-01T00:00:00Z',
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
      ...extra,
    });
    expect(tokenState(token({}), now)).toBe('active');
    expect(tokenState(token({ expiresAt: '2026-12-07T09:00:00Z' }), now)).toBe('expired');
    expect(tokenState(token({ expiresAt: '2026-12-08T00:00:00Z' }), now)).toBe('active');
    expect(
      tokenState(token({ revokedAt: '2026-06-01T00:00:00Z', expiresAt: '2026-01-02T00:00:00Z' }), now),
    ).toBe('revoked');
  });

  it('send the sign-in form as the API takes it: empty clears, a non-number goes as typed', () => {
    expect(
      settingsPatch({
        signIn: 'required',
        mfa: '',
        localUsers: 'false',
        idleMinutes: '30',
        absoluteHours: '',
      }),
    ).toEqual({ signIn: 'required', mfa: null, localUsers: false, idleMinutes: 30, absoluteHours: null });
    expect(
      settingsPatch({ signIn: '', mfa: '', localUsers: '', idleMinutes: 'ten', absoluteHours: ' ' }),
    ).toEqual({
      signIn: null,
      mfa: null,
      localUsers: null,
      idleMinutes: 'ten',
      absoluteHours: null,
    });
  });

  it('list the SLA periods of the last year, newest first, across a year boundary', () => {
    const periods = recentPeriods(new Date('2026-02-15T00:00:00Z'));
    expect(periods.slice(0, 3)).toEqual(['2026-02', '2026-01', '2025-12']);
    expect(periods[11]).toBe('2025-03');
    expect(periods.slice(12, 16)).toEqual(['2026-Q1', '2025-Q4', '2025-Q3', '2025-Q2']);
    expect(periods.slice(16)).toEqual(['2026', '2025']);
  });

  it('show sizes as people read them', () => {
    const n = (x: number) => String(x);
    expect(formatBytes(null, n)).toBe('—');
    expect(formatBytes(999, n)).toBe('999 B');
    expect(formatBytes(1_450_000, n)).toBe('1.5 MB');
    expect(formatBytes(2_000_000_000_000_000, n)).toBe('2000 TB');
  });
});
