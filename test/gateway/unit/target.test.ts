import { describe, expect, it } from 'vitest';
import { gatewayLimitDefaults } from '../../../src/gateway/limits.ts';
import { normaliseHost, routeTarget, type TargetInput } from '../../../src/gateway/target.ts';

const base: TargetInput = {
  method: 'GET',
  target: '/',
  hostHeaders: ['acme.localhost'],
  httpVersion: '1.1',
  tls: true,
  sni: 'acme.localhost',
  maxTargetBytes: gatewayLimitDefaults.maxTargetBytes,
};

describe('routing a request target', () => {
  it.each<
    [string, Partial<TargetInput>, { host: string; authority?: string; target: string; query?: string }]
  >([
    [
      'origin-form',
      { target: '/invoices?page=2' },
      { host: 'acme.localhost', target: '/invoices?page=2', query: 'page=2' },
    ],
    [
      'upper-case Host, with port',
      { hostHeaders: ['ACME.Localhost:8443'] },
      { host: 'acme.localhost', authority: 'acme.localhost:8443', target: '/' },
    ],
    [
      'one trailing dot',
      { hostHeaders: ['acme.localhost.'], sni: 'acme.localhost' },
      { host: 'acme.localhost', target: '/' },
    ],
    [
      'trailing dot and port',
      { hostHeaders: ['acme.localhost.:8443'] },
      { host: 'acme.localhost', authority: 'acme.localhost:8443', target: '/' },
    ],
    ['SNI differs only in case and dot', { sni: 'ACME.localhost.' }, { host: 'acme.localhost', target: '/' }],
    [
      'absolute-form for the same host',
      { target: 'https://acme.localhost:8443/a?b=c' },
      { host: 'acme.localhost', authority: 'acme.localhost:8443', target: '/a?b=c' },
    ],
    [
      'absolute-form without a path',
      { target: 'HTTPS://acme.localhost' },
      { host: 'acme.localhost', target: '/' },
    ],
    [
      'absolute-form with only a query',
      { target: 'https://acme.localhost?x=1' },
      { host: 'acme.localhost', target: '/?x=1' },
    ],
    [
      'absolute-form authority wins over Host (plain HTTP)',
      { target: 'http://acme.localhost/', hostHeaders: ['other.localhost'], tls: false, sni: undefined },
      { host: 'acme.localhost', target: '/' },
    ],
    [
      'TLS without SNI (an IP connection) goes by Host',
      { sni: undefined },
      { host: 'acme.localhost', target: '/' },
    ],
    [
      'percent-encoded characters that are not slashes or dots',
      { target: '/a%20b/%C3%A4' },
      { host: 'acme.localhost', target: '/a%20b/%C3%A4' },
    ],
    [
      'dots inside a segment',
      { target: '/a..b/.well-known/x...' },
      { host: 'acme.localhost', target: '/a..b/.well-known/x...' },
    ],
    ['empty segments', { target: '//a//b' }, { host: 'acme.localhost', target: '//a//b' }],
    [
      'a query with encoded slashes and dots',
      { target: '/a?next=%2F..%2Fb' },
      { host: 'acme.localhost', target: '/a?next=%2F..%2Fb' },
    ],
    [
      'underscore labels and IPv6 literals',
      { hostHeaders: ['[::1]:8443'], sni: undefined },
      { host: '[::1]', authority: '[::1]:8443', target: '/' },
    ],
  ])('routes %s', (_name, change, expected) => {
    const decision = routeTarget({ ...base, ...change });
    expect(decision).toMatchObject({ kind: 'route', ...expected });
  });

  it.each<[string, Partial<TargetInput>, number, string]>([
    ['SNI of one tenant, Host of another', { hostHeaders: ['globex.localhost'] }, 421, 'misdirected'],
    [
      'absolute-form naming another tenant over TLS',
      { target: 'https://globex.localhost/' },
      421,
      'misdirected',
    ],
    [
      'absolute-form naming another tenant, Host matching SNI',
      { target: 'http://globex.localhost/x', hostHeaders: ['acme.localhost'] },
      421,
      'misdirected',
    ],
    ['SNI that is a prefix of Host', { hostHeaders: ['acme.localhost.evil'] }, 421, 'misdirected'],
    ['two Host headers', { hostHeaders: ['acme.localhost', 'globex.localhost'] }, 400, 'multiple_hosts'],
    [
      'two identical Host headers',
      { hostHeaders: ['acme.localhost', 'acme.localhost'] },
      400,
      'multiple_hosts',
    ],
    ['no Host on HTTP/1.1', { hostHeaders: [] }, 400, 'no_host'],
    ['empty Host on HTTP/1.1', { hostHeaders: [''] }, 400, 'no_host'],
    [
      'absolute-form without Host on HTTP/1.1',
      { target: 'https://acme.localhost/', hostHeaders: [] },
      400,
      'no_host',
    ],
    ['HTTP/1.0 without Host, even with SNI', { httpVersion: '1.0', hostHeaders: [] }, 400, 'no_host'],
    [
      'absolute-form without Host on HTTP/1.0',
      { target: 'https://acme.localhost/', hostHeaders: [], httpVersion: '1.0' },
      400,
      'no_host',
    ],
    ['Host with userinfo', { hostHeaders: ['globex.localhost@acme.localhost'] }, 400, 'bad_host'],
    ['absolute-form with userinfo', { target: 'https://acme.localhost@globex.localhost/' }, 400, 'bad_host'],
    ['Host with a space', { hostHeaders: ['acme .localhost'] }, 400, 'bad_host'],
    ['Host with two trailing dots', { hostHeaders: ['acme.localhost..'] }, 400, 'bad_host'],
    ['Host with an empty label', { hostHeaders: ['acme..localhost'] }, 400, 'bad_host'],
    ['Host with a percent', { hostHeaders: ['acme%2elocalhost'] }, 400, 'bad_host'],
    ['Host with a slash', { hostHeaders: ['acme.localhost/x'] }, 400, 'bad_host'],
    ['Host with a non-ASCII look-alike', { hostHeaders: ['\u0430cme.localhost'] }, 400, 'bad_host'],
    ['Host with a bad port', { hostHeaders: ['acme.localhost:http'] }, 400, 'bad_host'],
    ['Host with a port above 65535', { hostHeaders: ['acme.localhost:70000'] }, 400, 'bad_host'],
    ['Host with two ports', { hostHeaders: ['acme.localhost:1:2'] }, 400, 'bad_host'],
    ['Host with a leading-hyphen label', { hostHeaders: ['-acme.localhost'] }, 400, 'bad_host'],
    ['a 64-character label', { hostHeaders: [`${'a'.repeat(64)}.localhost`] }, 400, 'bad_host'],
    ['dot-dot segment', { target: '/a/../b' }, 400, 'bad_path'],
    ['trailing dot-dot', { target: '/a/..' }, 400, 'bad_path'],
    ['dot segment', { target: '/./a' }, 400, 'bad_path'],
    ['encoded dot-dot', { target: '/a/%2e%2e/b' }, 400, 'bad_path'],
    ['half-encoded dot-dot', { target: '/a/.%2E/b' }, 400, 'bad_path'],
    ['encoded slash', { target: '/a%2fb' }, 400, 'bad_path'],
    ['encoded slash, upper case', { target: '/a%2Fb' }, 400, 'bad_path'],
    ['encoded backslash', { target: '/a%5cb' }, 400, 'bad_path'],
    ['raw backslash', { target: '/a\\..\\b' }, 400, 'bad_path'],
    ['encoded NUL', { target: '/a%00b' }, 400, 'bad_path'],
    ['encoded line feed', { target: '/a%0ab' }, 400, 'bad_path'],
    ['raw NUL', { target: '/a\u0000b' }, 400, 'bad_path'],
    ['raw tab', { target: '/a\tb' }, 400, 'bad_path'],
    ['raw non-ASCII', { target: '/ä' }, 400, 'bad_path'],
    ['malformed percent-encoding', { target: '/a%zz' }, 400, 'bad_path'],
    ['truncated percent-encoding', { target: '/a%2' }, 400, 'bad_path'],
    ['dot-dot in an absolute-form path', { target: 'https://acme.localhost/a/../b' }, 400, 'bad_path'],
    ['control character in the query', { target: '/a?b=\u0001' }, 400, 'bad_target'],
    ['a fragment', { target: '/a#b' }, 400, 'bad_target'],
    ['authority-form', { target: 'acme.localhost:443' }, 400, 'bad_target'],
    ['CONNECT', { method: 'CONNECT', target: 'acme.localhost:443' }, 405, 'method_not_allowed'],
    ['asterisk-form', { method: 'OPTIONS', target: '*' }, 400, 'bad_target'],
    ['another scheme', { target: 'ftp://acme.localhost/' }, 400, 'bad_target'],
    ['a relative path', { target: 'a/b' }, 400, 'bad_target'],
    ['an overlong target', { target: `/${'a'.repeat(8192)}` }, 414, 'target_too_long'],
  ])('refuses %s', (_name, change, status, code) => {
    const decision = routeTarget({ ...base, ...change });
    expect(decision).toMatchObject({ kind: 'reject', status, code });
    if (decision.kind === 'reject') expect(decision.reason.length).toBeGreaterThan(5);
  });
});

describe('host normalisation', () => {
  it.each([
    ['Acme.LOCALHOST', 'acme.localhost', 'acme.localhost'],
    ['acme.localhost.', 'acme.localhost', 'acme.localhost'],
    ['acme.localhost:443', 'acme.localhost', 'acme.localhost:443'],
    ['  acme.localhost  ', 'acme.localhost', 'acme.localhost'],
    ['[2001:DB8::1]:8443', '[2001:db8::1]', '[2001:db8::1]:8443'],
  ])('%j → host %j, authority %j', (value, host, authority) => {
    expect(normaliseHost(value)).toEqual({ host, authority });
  });

  it.each(['', '.', 'a..b', 'a b', 'a@b', '[::1', '[::1]x', '[::g]', 'a:', 'a:-1', 'a:1x'])(
    'refuses %j',
    (value) => {
      expect(normaliseHost(value)).toHaveProperty('problem');
    },
  );
});
