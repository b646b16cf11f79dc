import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { Haproxy, renderHaproxyConfig, type DataPlaneState } from '../../src/dataplane/index.ts';
import { InputError } from '../../src/core/errors.ts';
import { gatewayLimitDefaults } from '../../src/gateway/limits.ts';
import { dataPlaneFixture } from './support.ts';

const state: DataPlaneState = {
  files: {
    adminSocket: '/run/st/admin.sock',
    routesMap: '/run/st/routes.map',
    defaultCertificate: '/run/st/default.pem',
    crtList: '/run/st/crt-list.txt',
    errorDir: '/run/st/errors',
    allowDir: '/run/st/allow',
    maintenanceMap: '/run/st/maintenance.map',
    tenantLimits: '/run/st/tenant-limits.map',
  },
  https: { address: '0.0.0.0', port: 443 },
  http: { address: '0.0.0.0', port: 80 },
  stats: { address: '127.0.0.1', port: 8404 },
  steward: { address: '127.0.0.1', port: 3000 },
  backends: [
    { name: 'st_b7k2m9x4q8r3' },
    { name: 'st_c8d3', slots: 3, servers: [{ name: 'web-1', address: '::1', port: 8001 }] },
  ],
  hstsMaxAgeSeconds: 31_536_000,
  limits: gatewayLimitDefaults,
};

describe('renderHaproxyConfig', () => {
  const text = renderHaproxyConfig(state);

  it.each([
    ['master-worker mode', /^ {4}master-worker$/m],
    [
      'a runtime API that passes listeners on reload',
      /stats socket \/run\/st\/admin\.sock mode 600 level admin expose-fd listeners/,
    ],
    ['TLS 1.2 and 1.3 only', /ssl-default-bind-options ssl-min-ver TLSv1\.2 ssl-max-ver TLSv1\.3/],
    [
      'ECDHE with AEAD only on TLS 1.2',
      /ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:[A-Z0-9:-]+POLY1305$/m,
    ],
    [
      'TLS 1.3 suites',
      /ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256/,
    ],
    [
      'HTTPS with a crt-list and ALPN',
      /bind 0\.0\.0\.0:443 ssl crt \/run\/st\/default\.pem crt-list \/run\/st\/crt-list\.txt alpn h2,http\/1\.1/,
    ],
    [
      'Steward pages before tenant routes',
      /use_backend be_steward if \{ path_beg \/\.steward\/ \}\n {4}use_backend %\[req\.hdr\(host\)/,
    ],
    ['routes from the map, unrouted otherwise', /map\(\/run\/st\/routes\.map,be_unrouted\)/],
    ['HSTS', /set-header Strict-Transport-Security "max-age=31536000"/],
    [
      'HTTP redirects without a port on 443',
      /redirect location https:\/\/%\[req\.hdr\(host\),field\(1,:\)\]%\[pathq\] code 301/,
    ],
    [
      'the Prometheus exporter on loopback',
      /bind 127\.0\.0\.1:8404\n {4}http-request use-service prometheus-exporter/,
    ],
    ['an empty backend for dynamic servers', /backend st_b7k2m9x4q8r3\n {4}balance roundrobin\n\n/],
    [
      'known instances and disabled slots',
      /server web-1 \[::1\]:8001\n {4}server-template slot 1-3 127\.0\.0\.1:1 disabled/,
    ],
    [
      'a 404 that names no tenant',
      /return status 404 .* string "No application is served at this address\."/,
    ],
  ])('renders %s', (_what, pattern) => {
    expect(text).toMatch(pattern);
  });

  it('puts the HTTPS port into the redirect when it is not 443', () => {
    const other = renderHaproxyConfig({ ...state, https: { address: '127.0.0.1', port: 8443 } });
    expect(other).toContain('https://%[req.hdr(host),field(1,:)]:8443%[pathq]');
  });

  it.each([
    [{ backends: [{ name: 'st_a\n    server evil 10.0.0.1:22' }] }, 'backends[0].name'],
    [{ backends: [{ name: 'be_steward' }] }, 'backends[0].name'],
    [{ backends: [{ name: 'st_a' }, { name: 'st_a' }] }, 'backends[1].name'],
    [{ backends: [{ name: 'st_a', slots: 65 }] }, 'backends[0].slots'],
    [
      { backends: [{ name: 'st_a', servers: [{ name: 'slot1', address: '127.0.0.1', port: 1 }] }] },
      'backends[0].servers[0].name',
    ],
    [
      { backends: [{ name: 'st_a', servers: [{ name: 'w', address: 'localhost', port: 1 }] }] },
      'backends[0].servers[0].address',
    ],
    [{ https: { address: '0.0.0.0', port: 70_000 } }, 'https.port'],
    [{ stats: { address: '0.0.0.0', port: 8404 } }, 'stats.address'],
    [{ files: { ...state.files, routesMap: '/run/st/routes map' } }, 'files.routesMap'],
    [{ files: { ...state.files, crtList: 'relative.txt' } }, 'files.crtList'],
    [{ hstsMaxAgeSeconds: -1 }, 'hstsMaxAgeSeconds'],
    [{ runAs: { user: 'root;', group: 'x' } }, 'runAs.user'],
  ] as const)('refuses %j, naming %s', (change, field) => {
    expect(() => renderHaproxyConfig({ ...state, ...change })).toThrow(
      expect.objectContaining({ constructor: InputError, field }),
    );
  });
});

describe('the rendered config in the real HAProxy', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("passes haproxy -c, and a broken one is refused with HAProxy's reason", async () => {
    const fixture = await dataPlaneFixture([
      { name: 'st_a' },
      {
        name: 'st_b',
        slots: 4,
        servers: [{ name: 'web-1', address: '127.0.0.1', port: 9000, state: 'drain' }],
      },
    ]);
    dirs.push(fixture.dir);
    const haproxy = new Haproxy({
      configFile: fixture.configFile,
      pidFile: `${fixture.dir}/haproxy.pid`,
      masterSocket: `${fixture.dir}/master.sock`,
      adminSocket: fixture.state.files.adminSocket,
      logFile: `${fixture.dir}/haproxy.log`,
    });
    await haproxy.validate();
    writeFileSync(fixture.configFile, 'global\n    no-such-keyword\n');
    await expect(haproxy.validate()).rejects.toThrow(/no-such-keyword/);
  });
});
