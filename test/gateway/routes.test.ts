import { describe, expect, it } from 'vitest';
import {
  addressMatcher,
  buildRouteTable,
  normaliseHost,
  parseCidr,
  type RouteSource,
} from '../../src/gateway/routes.ts';
import { checkCertificate, isCertificateDomain } from '../../src/gateway/tls.ts';
import { createCa, issueServerCertificate } from '../../src/tls/ca.ts';

const source = (over: Partial<RouteSource> = {}): RouteSource => ({
  tenant: 'acme',
  stage: 'dev',
  publishedPort: 41000,
  allowFrom: null,
  maintenance: false,
  domains: [],
  ...over,
});

describe('route table', () => {
  it('gives each stage its host, prod its tenant alias, and custom domains', () => {
    const table = buildRouteTable(
      [
        source(),
        source({ stage: 'prod', publishedPort: 41001, domains: ['books.acme.test'] }),
        source({ tenant: 'globex', stage: 'test', publishedPort: 41002 }),
      ],
      'Example.COM',
    );
    expect(table.routes.map((r) => [r.host, r.kind, r.tenant, r.stage, r.publishedPort])).toEqual([
      ['acme.example.com', 'prod', 'acme', 'prod', 41001],
      ['books.acme.test', 'custom', 'acme', 'prod', 41001],
      ['dev.acme.example.com', 'stage', 'acme', 'dev', 41000],
      ['prod.acme.example.com', 'stage', 'acme', 'prod', 41001],
      ['test.globex.example.com', 'stage', 'globex', 'test', 41002],
    ]);
    expect(table.get('globex.example.com')).toBeUndefined();
    expect([...table.ports].sort()).toEqual([41000, 41001, 41002]);
  });

  it('never lets a custom domain take over a name Steward gives out', () => {
    const table = buildRouteTable(
      [source({ tenant: 'evil', stage: 'dev', publishedPort: 1, domains: ['dev.acme.localhost'] }), source()],
      'localhost',
    );
    expect(table.get('dev.acme.localhost')).toMatchObject({ tenant: 'acme', kind: 'stage' });
  });

  it.each([
    ['dev.acme.localhost', 'dev.acme.localhost'],
    ['DEV.Acme.LocalHost', 'dev.acme.localhost'],
    ['dev.acme.localhost:8443', 'dev.acme.localhost'],
    ['dev.acme.localhost.', 'dev.acme.localhost'],
    ['dev.acme.localhost.:443', 'dev.acme.localhost'],
    ['[::1]:8443', '[::1]'],
    ['', undefined],
    [':443', undefined],
    [undefined, undefined],
  ])('normalises host %j to %j', (raw, expected) => {
    expect(normaliseHost(raw)).toBe(expected);
  });
});

describe('allow lists', () => {
  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['192.0.2.7', { address: '192.0.2.7', prefix: 32, family: 'ipv4' }],
    ['2001:db8::/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
    ['10.0.0.0/33', undefined],
    ['10.0.0/8', undefined],
    ['10.0.0.0/8/1', undefined],
    ['10.0.0.0/x', undefined],
    ['any', undefined],
  ])('parses %j', (text, expected) => {
    expect(parseCidr(text)).toEqual(expected);
  });

  it('matches addresses, IPv4-mapped ones too; no list lets everyone in', () => {
    const allows = addressMatcher(['10.0.0.0/8', '2001:db8::/32']);
    expect(allows('10.1.2.3')).toBe(true);
    expect(allows('::ffff:10.1.2.3')).toBe(true);
    expect(allows('11.0.0.1')).toBe(false);
    expect(allows('2001:db8::1')).toBe(true);
    expect(allows('2001:db9::1')).toBe(false);
    expect(allows('')).toBe(false);
    expect(addressMatcher(null)('203.0.113.9')).toBe(true);
  });
});

describe('operator certificates', () => {
  it('accepts a certificate whose key matches and which names the domain (or covers it)', async () => {
    const ca = await createCa('Operator CA');
    const cert = await issueServerCertificate(ca, ['shop.example.com', '*.shop.example.com']);
    expect(checkCertificate('Shop.Example.com', cert.chainPem, cert.keyPem)).toMatchObject({
      domain: 'shop.example.com',
      names: ['shop.example.com', '*.shop.example.com'],
    });
    expect(checkCertificate('*.shop.example.com', cert.chainPem, cert.keyPem).domain).toBe(
      '*.shop.example.com',
    );
    expect(checkCertificate('eu.shop.example.com', cert.chainPem, cert.keyPem).domain).toBe(
      'eu.shop.example.com',
    );
    const other = await issueServerCertificate(ca, ['shop.example.com']);
    expect(() => checkCertificate('shop.example.com', cert.chainPem, other.keyPem)).toThrow(
      /key does not belong/,
    );
    expect(() => checkCertificate('*.example.com', cert.chainPem, cert.keyPem)).toThrow(
      /not for "\*\.example\.com"/,
    );
    expect(() => checkCertificate('shop.example.com', 'nonsense', cert.keyPem)).toThrow(/not a PEM X\.509/);
    expect(() => checkCertificate('shop.example.com', cert.chainPem, 'nonsense')).toThrow(
      /not a PEM private key/,
    );
    const expired = await issueServerCertificate(ca, ['shop.example.com'], {
      now: new Date(Date.now() - 100 * 86_400_000),
      days: 10,
    });
    expect(() => checkCertificate('shop.example.com', expired.chainPem, expired.keyPem)).toThrow(/expired/);
  });

  it.each([
    ['example.com', true],
    ['*.example.com', true],
    ['a.b.example.com', true],
    ['localhost', false],
    ['*.*.example.com', false],
    ['exa mple.com', false],
    ['-bad.example.com', false],
  ])('domain %j is %s', (domain, ok) => {
    expect(isCertificateDomain(domain)).toBe(ok);
  });
});
