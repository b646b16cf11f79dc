import { describe, expect, it } from 'vitest';
import type { StageRouteSource } from '../../src/gateway/state.ts';
import {
  desiredCertificates,
  desiredRoutes,
  diffMap,
  issuedVersion,
  planCertificates,
  renderMapFile,
  renewBeforeMs,
  type DesiredCertificate,
  type ObservedCertificate,
} from '../../src/dataplane/plan.ts';

const source = (over: Partial<StageRouteSource> = {}): StageRouteSource => ({
  stageId: '1',
  tenant: 'acme',
  tier: 'shared',
  stage: 'dev',
  publishedPort: 41000,
  allowFrom: null,
  maintenance: false,
  domains: [],
  ...over,
});

const base = 'example.com';

describe('desired routes', () => {
  it('routes each stage host, the prod alias and custom domains to the stage backend; Steward hosts win', () => {
    const routes = desiredRoutes(
      [
        source(),
        source({ stageId: '2', stage: 'prod', domains: ['books.acme.test', 'dev.acme.example.com'] }),
        // A tenant named like Steward's own host cannot take it.
        source({ stageId: '3', tenant: 'status', stage: 'prod' }),
      ],
      { baseDomain: base, stewardHosts: ['status.example.com'] },
    );
    expect(routes.routes.map((r) => [r.host, r.backend, r.kind])).toEqual([
      ['acme.example.com', 'st_2', 'prod'],
      ['books.acme.test', 'st_2', 'custom'],
      ['dev.acme.example.com', 'st_1', 'stage'],
      ['prod.acme.example.com', 'st_2', 'stage'],
      ['prod.status.example.com', 'st_3', 'stage'],
      ['status.example.com', 'be_steward', 'steward'],
    ]);
    expect(routes.stages.map((s) => s.backend)).toEqual(['st_1', 'st_2', 'st_3']);
    expect(renderMapFile([{ key: 'a.test', value: 'st_1' }])).toBe('a.test st_1\n');
  });

  it('diffs a map into entry commands', () => {
    const current = [
      { key: 'a.test', value: 'st_1' },
      { key: 'b.test', value: 'st_2' },
      { key: 'c.test', value: 'st_3' },
    ];
    const desired = [
      { key: 'a.test', value: 'st_1' },
      { key: 'b.test', value: 'st_9' },
      { key: 'd.test', value: 'st_4' },
    ];
    expect(diffMap(current, desired)).toEqual({
      add: [{ key: 'd.test', value: 'st_4' }],
      set: [{ key: 'b.test', value: 'st_9' }],
      del: ['c.test'],
    });
    expect(diffMap(desired, desired)).toEqual({ add: [], set: [], del: [] });
  });
});

describe('desired certificates', () => {
  const routes = desiredRoutes(
    [
      source(),
      source({ stageId: '2', stage: 'prod', domains: ['books.acme.test', 'shop.example.org'] }),
      source({ stageId: '3', tenant: 'globex', stage: 'test', domains: ['app.globex.test'] }),
    ],
    { baseDomain: base, stewardHosts: ['status.example.com'] },
  ).routes;

  it("issues one per tenant (its alias and its stages' wildcard) and one per uncovered custom domain", () => {
    const certificates = desiredCertificates(routes, [], base);
    expect(certificates.map((c) => [c.file, c.sni])).toEqual([
      ['ca-tenant-acme.pem', ['*.acme.example.com', 'acme.example.com']],
      ['ca-tenant-globex.pem', ['*.globex.example.com']],
      ['ca-host-app.globex.test.pem', ['app.globex.test']],
      ['ca-host-books.acme.test.pem', ['books.acme.test']],
      ['ca-host-shop.example.org.pem', ['shop.example.org']],
      ['ca-host-status.example.com.pem', ['status.example.com']],
    ]);
  });

  it("serves operators' certificates instead, exact or one label up by wildcard", () => {
    const certificates = desiredCertificates(
      routes,
      [
        { domain: 'books.acme.test', version: 'v1' },
        { domain: '*.example.org', version: 'v2' },
        { domain: '*.acme.example.com', version: 'v3' },
      ],
      base,
    );
    expect(certificates.map((c) => [c.file, c.sni])).toEqual([
      ['op-books.acme.test.pem', ['books.acme.test']],
      ['op-_wildcard.example.org.pem', ['*.example.org']],
      ['op-_wildcard.acme.example.com.pem', ['*.acme.example.com']],
      ['ca-tenant-acme.pem', ['acme.example.com']],
      ['ca-tenant-globex.pem', ['*.globex.example.com']],
      ['ca-host-app.globex.test.pem', ['app.globex.test']],
      ['ca-host-status.example.com.pem', ['status.example.com']],
    ]);
  });
});

describe('certificate steps', () => {
  const now = Date.UTC(2026, 0, 1);
  const issued = (names: string[]): DesiredCertificate => ({
    file: 'ca-tenant-acme.pem',
    sni: names,
    source: { kind: 'issued', names },
  });
  const operator = (version: string): DesiredCertificate => ({
    file: 'op-shop.test.pem',
    sni: ['shop.test'],
    source: { kind: 'operator', domain: 'shop.test', version },
  });
  const seen = (
    entries: [string, Partial<ObservedCertificate>][],
  ): ReadonlyMap<string, ObservedCertificate> =>
    new Map(
      entries.map(([file, o]) => [
        file,
        { sni: undefined, version: undefined, notAfter: now + 60 * 86_400_000, ...o },
      ]),
    );
  const names = ['*.acme.example.com', 'acme.example.com'];

  it.each([
    ['nothing held: new, listed', seen([]), [issued(names)], [['install', true, true, true]]],
    [
      'held and current: nothing to do',
      seen([['ca-tenant-acme.pem', { sni: names, version: issuedVersion(names) }]]),
      [issued(names)],
      [],
    ],
    [
      'the tenant got a prod alias: issued again, listed again',
      seen([['ca-tenant-acme.pem', { sni: ['*.acme.example.com'], version: '*.acme.example.com' }]]),
      [issued(names)],
      [['install', false, true, true]],
    ],
    [
      'close to expiry: renewed in place, the entry stays',
      seen([
        [
          'ca-tenant-acme.pem',
          { sni: names, version: issuedVersion(names), notAfter: now + renewBeforeMs - 1 },
        ],
      ]),
      [issued(names)],
      [['install', false, false, true]],
    ],
    [
      "an operator's certificate replaced: hot-swapped, the entry stays",
      seen([['op-shop.test.pem', { sni: ['shop.test'], version: 'v1' }]]),
      [operator('v2')],
      [['install', false, false, true]],
    ],
    [
      'loaded but in no crt-list entry (a kill -9 between the steps): listed',
      seen([['op-shop.test.pem', { sni: undefined, version: 'v1' }]]),
      [operator('v1')],
      [['install', false, true, false]],
    ],
  ] as const)('%s', (_, observed, desired, expected) => {
    const steps = planCertificates(observed, desired, now).map((step) =>
      step.kind === 'install' ? [step.kind, step.isNew, step.list, step.content] : [step.kind],
    );
    expect(steps).toEqual(expected);
  });

  it('removes what is no longer wanted, with its crt-list entry when it has one', () => {
    const observed = seen([
      ['op-shop.test.pem', { sni: ['shop.test'], version: 'v1' }],
      ['ca-host-old.test.pem', { sni: undefined, version: 'old.test' }],
    ]);
    expect(planCertificates(observed, [], now)).toEqual([
      { kind: 'remove', file: 'op-shop.test.pem', listed: true },
      { kind: 'remove', file: 'ca-host-old.test.pem', listed: false },
    ]);
  });
});
