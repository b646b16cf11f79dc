import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { consoleBackend, renderHaproxyConfig } from '../../src/dataplane/index.ts';
import { desiredRoutes } from '../../src/dataplane/plan.ts';
import { edgeClientAddress } from '../../src/console/edge.ts';
import { cookieRefusal, consoleCookieValue, csrfTokenOf } from '../../src/console/session.ts';
import { answer, type ConsoleSite } from '../../src/console/site.ts';
import { dataPlaneFixture, fixtureHaproxy } from '../dataplane/support.ts';
import { buildConsole, consoleStale } from '../../src/console/build.ts';

/**
 * The console's pure parts: the console host's backend in haproxy.cfg (and
 * HAProxy's own check of it), its route, the edge key, the CSRF rules and
 * the file answers.
 */
const edgeKey = 'k'.repeat(43);
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe("the console host's backend", () => {
  it('passes haproxy -c, plain and over TLS verified against the CA, with long server timeouts for event streams', async () => {
    const fixture = await dataPlaneFixture([{ name: 'st_a', tenant: 'acme', publishedPort: 41_101 }]);
    dirs.push(fixture.dir);
    const caFile = join(fixture.dir, 'api-ca.pem');
    writeFileSync(caFile, fixture.ca.certPem);
    const haproxy = fixtureHaproxy(fixture);
    for (const tls of [false, true]) {
      const text = renderHaproxyConfig({
        ...fixture.state,
        console: { address: '127.0.0.1', port: 8440, edgeKey, ...(tls ? { caFile } : {}) },
      });
      const backend = text.slice(text.indexOf(`backend ${consoleBackend}`)).split('\n\n')[0];
      expect(backend).toBe(
        [
          `backend ${consoleBackend}`,
          '    timeout server 10m',
          '    timeout tunnel 1h',
          '    http-request set-header X-Forwarded-For %[src]',
          `    http-request set-header X-Steward-Edge ${edgeKey}`,
          `    server api 127.0.0.1:8440${tls ? ` ssl verify required ca-file ${caFile} sni str(localhost) verifyhost localhost` : ''}`,
        ].join('\n'),
      );
      writeFileSync(fixture.configFile, text);
      await haproxy.validate();
    }
    expect(() =>
      renderHaproxyConfig({
        ...fixture.state,
        console: { address: '127.0.0.1', port: 8440, edgeKey: 'x y' },
      }),
    ).toThrow(/console.edgeKey is not accepted/);
    expect(() => renderHaproxyConfig({ ...fixture.state, backends: [{ name: consoleBackend }] })).toThrow(
      /belong to Steward/,
    );
  });

  it('routes console.<base> to it first, with a certificate of its own; no tenant takes the host', () => {
    const source = {
      stageId: '7',
      tenant: 'console',
      stage: 'prod',
      tier: 'shared',
      publishedPort: 41_102,
      allowFrom: null,
      maintenance: false,
      domains: ['console.example.org'],
    };
    const routes = desiredRoutes([source], {
      baseDomain: 'example.org',
      stewardHosts: ['status.example.org'],
      consoleHost: 'console.example.org',
    });
    expect(routes.routes.find((r) => r.host === 'console.example.org')).toEqual({
      host: 'console.example.org',
      backend: consoleBackend,
      kind: 'steward',
      tenant: undefined,
    });
    expect(desiredRoutes([], { baseDomain: 'example.org', stewardHosts: [] }).routes).toEqual([]);
  });
});

describe('the edge key', () => {
  it('takes the forwarded address only with the key, and only a single address', () => {
    const headers = (key: string, xff: string) => ({ 'x-steward-edge': key, 'x-forwarded-for': xff });
    expect(edgeClientAddress(headers(edgeKey, '192.0.2.7'), edgeKey)).toBe('192.0.2.7');
    expect(edgeClientAddress(headers(edgeKey, '2001:db8::1'), edgeKey)).toBe('2001:db8::1');
    expect(edgeClientAddress(headers('k'.repeat(42) + 'j', '192.0.2.7'), edgeKey)).toBeUndefined();
    expect(edgeClientAddress(headers('short', '192.0.2.7'), edgeKey)).toBeUndefined();
    expect(edgeClientAddress(headers(edgeKey, '192.0.2.7, 10.0.0.1'), edgeKey)).toBeUndefined();
    expect(edgeClientAddress({ 'x-forwarded-for': '192.0.2.7' }, edgeKey)).toBeUndefined();
  });
});

describe('CSRF for the session cookie', () => {
  const token = 'stw_session-token';
  const base = {
    method: 'POST',
    sessionToken: token,
    host: 'console.example.org',
    origin: 'https://console.example.org',
    secFetchSite: 'same-origin',
    csrfToken: csrfTokenOf(token),
  };
  it.each([
    ['a same-origin change', base, undefined],
    [
      'a read from anywhere',
      { ...base, method: 'GET', origin: 'https://evil.example', csrfToken: undefined },
      undefined,
    ],
    ['Origin alone', { ...base, secFetchSite: undefined }, undefined],
    ['Sec-Fetch-Site alone', { ...base, origin: undefined }, undefined],
    ['the host in another case', { ...base, origin: 'https://CONSOLE.example.org' }, undefined],
    ['no token', { ...base, csrfToken: undefined }, 'x-csrf-token'],
    ["another session's token", { ...base, csrfToken: csrfTokenOf('stw_other') }, 'x-csrf-token'],
    ['another origin', { ...base, origin: 'https://console.example.org.evil.example' }, 'origin'],
    ['another port', { ...base, origin: 'https://console.example.org:8443' }, 'origin'],
    ['Origin null', { ...base, origin: 'null' }, 'origin'],
    ['same-site', { ...base, secFetchSite: 'same-site' }, 'sec-fetch-site'],
    ['no Origin, no Sec-Fetch-Site', { ...base, origin: undefined, secFetchSite: undefined }, 'origin'],
  ] as const)('%s', (_what, request, field) => {
    expect(cookieRefusal(request)?.field).toBe(field);
  });

  it('reads the console cookie, not the end users’ one of the same prefix', () => {
    expect(consoleCookieValue('__Host-steward-session=a; __Host-steward=stw_b')).toBe('stw_b');
    expect(consoleCookieValue('__Host-steward-session=a')).toBeUndefined();
    expect(consoleCookieValue('__Host-steward=')).toBeUndefined();
  });
});

describe('the files', () => {
  const file = (body: string) => ({
    type: 'text/javascript; charset=utf-8',
    body: Buffer.from(body),
    br: Buffer.from('br'),
    etag: '"e1"',
  });
  const site: ConsoleSite = {
    dir: '/nowhere',
    files: new Map([
      [
        '/index.html',
        { ...file('page'), type: 'text/html; charset=utf-8', br: undefined as never, etag: '"p"' },
      ],
      ['/assets/a-1.js', file('script')],
    ]),
  };
  const ask = (url: string, extra: Partial<Parameters<typeof answer>[1]> = {}) =>
    answer(site, { method: 'GET', url, acceptEncoding: undefined, ifNoneMatch: undefined, ...extra });
  it('answers by path, precompressed when accepted, the page for the rest, 304 for a known version', () => {
    expect(ask('/assets/a-1.js').body?.toString()).toBe('script');
    expect(ask('/assets/a-1.js', { acceptEncoding: 'br' }).headers['content-encoding']).toBe('br');
    expect(
      ask('/assets/a-1.js', { acceptEncoding: 'br;q=0, gzip' }).headers['content-encoding'],
    ).toBeUndefined();
    expect(ask('/assets/a-2.js').status).toBe(404);
    expect(ask('/tenants/acme').body?.toString()).toBe('page');
    expect(ask('/').headers['cache-control']).toBe('no-cache');
    expect(ask('/assets/a-1.js', { ifNoneMatch: 'W/"x", "e1"' }).status).toBe(304);
    expect(ask('/assets/a-1.js', { method: 'HEAD' }).body).toBeUndefined();
  });
});

describe('building the console', () => {
  it('builds a Vite root into dist with .br and .gz copies, and is stale again only when a source changes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'console-root-'));
    dirs.push(root);
    expect(await consoleStale(root)).toBe(false); // no Vite root: nothing to build
    mkdirSync(join(root, 'src'));
    writeFileSync(
      join(root, 'vite.config.ts'),
      "export default { root: import.meta.dirname, build: { outDir: 'dist' } };\n",
    );
    writeFileSync(
      join(root, 'index.html'),
      '<!doctype html><title>t</title><script type="module" src="/src/main.js"></script>\n',
    );
    writeFileSync(
      join(root, 'src', 'main.js'),
      `document.title = ${JSON.stringify('console '.repeat(400))};\n`,
    );
    expect(await consoleStale(root)).toBe(true);
    const built = await buildConsole(root);
    expect(built.dist).toBe(join(root, 'dist'));
    const assets = readdirSync(join(root, 'dist', 'assets'));
    const script = assets.find((name) => /^index-[\w-]+\.js$/.test(name));
    expect(assets.sort()).toEqual([script, `${script}.br`, `${script}.gz`].sort());
    expect(await consoleStale(root)).toBe(false);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(root, 'src', 'main.js'), later, later);
    expect(await consoleStale(root)).toBe(true);
    // A broken source: the build fails with Vite's own words.
    writeFileSync(join(root, 'src', 'main.js'), 'import { x } from "./missing.js";\n');
    await expect(buildConsole(root)).rejects.toThrow(/building the console failed[^]*missing/);
    expect(existsSync(join(root, 'vite.config.ts'))).toBe(true);
  }, 60_000);
});
