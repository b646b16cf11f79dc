import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import {
  accessLogFormat,
  accessLogKeys,
  errorPageStatuses,
  rateWindowMs,
  renderErrorPages,
  renderHaproxyConfig,
  type DataPlaneState,
} from '../../src/dataplane/index.ts';
import { strippedRequestHeaders } from '../../src/gateway/headers.ts';
import { InputError } from '../../src/core/errors.ts';
import { gatewayLimitDefaults } from '../../src/gateway/limits.ts';
import { dataPlaneFixture, fixtureHaproxy } from './support.ts';

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
      /use_backend be_steward if \{ path_beg \/\.steward\/ \}\n {4}use_backend %\[var\(txn\.host\)/,
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
    [
      'an empty backend for dynamic servers',
      /backend st_b7k2m9x4q8r3\n {4}balance roundrobin\n(?: {4}(?:acl|http-request) .*\n)+\n/,
    ],
    [
      'known instances and disabled slots',
      /server web-1 \[::1\]:8001\n {4}server-template slot 1-3 127\.0\.0\.1:1 disabled/,
    ],
    [
      'a 404 that names no tenant',
      /backend be_unrouted\n {4}http-request return status 404 .* file \/run\/st\/errors\/404\.html if TRUE\n/,
    ],
  ])('renders %s', (_what, pattern) => {
    expect(text).toMatch(pattern);
  });

  it("sends /scim/v2 on a tenant's apex host, and only there, to Steward's pages, after the /.steward/ rule", () => {
    expect(text).not.toContain('scim');
    const lines = renderHaproxyConfig({ ...state, scimBaseDomain: 'apps.example.com' }).split('\n');
    const steward = lines.findIndex((l) => l.includes('path_beg /.steward/'));
    const scim = lines.findIndex((l) => l.includes('path_beg /scim/v2/'));
    const routes = lines.findIndex((l) => l.includes('use_backend %[var(txn.host)'));
    expect(steward).toBeGreaterThan(0);
    expect(scim).toBeGreaterThan(steward);
    expect(routes).toBeGreaterThan(scim);
    const acl = lines.find((l) => l.includes('acl scim_apex')) ?? '';
    const pattern = new RegExp(acl.split(' -m reg ')[1] ?? 'x');
    expect(['acme.apps.example.com', 'a-b.apps.example.com'].every((h) => pattern.test(h))).toBe(true);
    expect(
      ['prod.acme.apps.example.com', 'acme.example.com', 'apps.example.com', 'acmexapps.example.com'].some(
        (h) => pattern.test(h),
      ),
    ).toBe(false);
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
    [{ backends: [{ name: 'st_a', tenant: 'Acme Corp' }] }, 'backends[0].tenant'],
    [{ backends: [{ name: 'st_a', publishedPort: 0 }] }, 'backends[0].publishedPort'],
    [
      {
        backends: [
          { name: 'st_a', publishedPort: 41_001 },
          { name: 'st_b', publishedPort: 41_001 },
        ],
      },
      'backends[1].publishedPort',
    ],
    [{ activator: { address: '127.0.0.1', port: -1 } }, 'activator.port'],
    [{ accessLog: 'access.sock' }, 'accessLog'],
    [{ limits: { ...gatewayLimitDefaults, addressBurst: 0 } }, 'limits.addressBurst'],
    [{ files: { ...state.files, allowDir: '/run/st/allow lists' } }, 'files.allowDir'],
  ] as const)('refuses %j, naming %s', (change, field) => {
    expect(() => renderHaproxyConfig({ ...state, ...change })).toThrow(
      expect.objectContaining({ constructor: InputError, field }),
    );
  });
});

describe('the edge rules', () => {
  const text = renderHaproxyConfig({
    ...state,
    activator: { address: '127.0.0.1', port: 3001 },
    accessLog: '/run/st/access.sock',
    backends: [
      { name: 'st_a', tenant: 'acme', publishedPort: 41_001 },
      { name: 'st_b', publishedPort: 41_002 },
    ],
  });
  const section = (name: string): string => {
    const start = text.indexOf(`\n${name}\n`);
    return text.slice(start, text.indexOf('\n\n', start + 1));
  };

  it.each([
    ['the connection cap per address', /tcp-request connection reject if \{ sc0_conn_cur gt 4096 \}/],
    [
      'the address table with a window of burst/rate',
      /backend tb_address\n {4}stick-table type ipv6 size 100000 expire 60000ms store conn_cur,http_req_rate\(10000ms\)/,
    ],
    [
      '429 with the seconds until the window lets the excess go',
      /return status 429 .* hdr Retry-After %\[var\(txn\.address_excess\),mul\(10000\),div\(5000\),add\(999\),div\(1000\)\] if \{ var\(txn\.address_excess\) -m int gt 0 \}/,
    ],
    [
      '421 when SNI and Host differ',
      /return status 421 .* file \/run\/st\/errors\/421\.html if has_sni !same_host/,
    ],
    [
      '431 past the header count, counted only in a list of names long enough',
      /acl many_header_names req\.hdr_names,length ge 201\n.*acl too_many_headers 'req\.hdr_names,regsub\("\[\^,\]","",g\),length' ge 100\n(.|\n)*status 431 .* if many_header_names too_many_headers\n/,
    ],
    [
      'the body waited for only when one may come (HTTP/1 announces it; HTTP/2 always)',
      /acl has_coding req\.hdr_cnt\(transfer-encoding\) gt 0\n {4}acl http1 req\.ver 1\.0 1\.1\n(.|\n)*wait-for-body time 30000ms at-least 36865 if has_length \|\| has_coding \|\| !http1\n/,
    ],
    ['431 past the header bytes', /acl headers_too_large req\.hdrs,length gt 16384\n/],
    ['414 past the target length', /acl target_too_long url,length gt 8192\n/],
    [
      '413 past the Content-Length limit',
      /return status 413 .* if has_length \{ req\.body_size gt 10485760 \}/,
    ],
    [
      '413 for a body without length past what the buffer counts',
      /if !has_length \{ req\.body_size gt 36864 \}/,
    ],
    [
      'a buffer that holds the head and the counted body',
      /tune\.bufsize 65536\n {4}tune\.http\.maxhdr 200\n/,
    ],
    ['the slowloris bound', /timeout http-request 10000ms/],
    ["the branded pages for HAProxy's own errors", /errorfile 503 \/run\/st\/errors\/503\.http/],
    [
      'the forwarding headers set',
      /set-header X-Forwarded-For %\[src\]\n.*X-Forwarded-Proto https\n.*X-Forwarded-Host/,
    ],
    [
      'a request id upstream and in the answer',
      /set-header X-Request-Id %\[unique-id\]\n {4}http-after-response set-header X-Request-Id/,
    ],
    [
      'the allow list per stage',
      /return status 403 .* if from_edge !\{ src -f \/run\/st\/allow\/st_a\.acl \}/,
    ],
    [
      'maintenance with Retry-After',
      /file \/run\/st\/errors\/maintenance\.html hdr Retry-After 300 if from_edge \{ be_name,map\(\/run\/st\/maintenance\.map\) -m found \}/,
    ],
    ['the tenant tracked', /track-sc1 str\(acme\) table tb_tenant if from_edge/],
    [
      "503 past the tenant's requests in flight",
      /return status 503 .* hdr Retry-After 1 if from_edge \{ sc1_conn_cur gt 2000 \}/,
    ],
    [
      'the tenant rate from the map',
      /str\(acme\),map_str_int\(\/run\/st\/tenant-limits\.map,0\),mul\(10000\),div\(1000\)/,
    ],
    ['the stage named to the activator', /http-request set-header X-Steward-Stage st_a\n/],
    ['the activator as backup', /server activator 127\.0\.0\.1:3001 backup\n\nbackend st_b/],
    [
      "the access log through the ring to Steward's socket",
      /log ring@steward_access local0 info\n(.|\n)*server steward unix@\/run\/st\/access\.sock log-proto octet-count/,
    ],
  ])('renders %s', (_what, pattern) => {
    expect(text).toMatch(pattern);
  });

  it('strips every owned header name and prefix in one rule, and no other header', () => {
    const rules = text.split('\n').filter((line) => line.includes('del-header'));
    expect(rules).toHaveLength(1);
    const [, source] = /del-header '\(\?i\)(.*)' -m reg$/.exec(rules[0] ?? '') ?? [];
    const owned = new RegExp(source ?? '$^', 'i');
    for (const name of strippedRequestHeaders.names) expect(owned.test(name.toUpperCase())).toBe(true);
    for (const prefix of strippedRequestHeaders.prefixes) expect(owned.test(`${prefix}anything`)).toBe(true);
    for (const name of ['host', 'user-agent', 'x-forwarded', 'proxy-authorization', 'xforwarded', 'x-realip'])
      expect(owned.test(name)).toBe(false);
  });

  it('publishes each stage on loopback, routed by port, without the edge rules', () => {
    expect(section('frontend fe_stages')).toBe(
      [
        '\nfrontend fe_stages',
        '    bind 127.0.0.1:41001',
        '    bind 127.0.0.1:41002',
        '    option forwardfor',
        '    use_backend st_a if { dst_port 41001 }',
        '    use_backend st_b if { dst_port 41002 }',
        '    default_backend be_unrouted',
      ].join('\n'),
    );
    expect(section('backend st_b')).not.toContain('track-sc1');
  });

  it('logs exactly the agreed keys, in order, strings through the json converter', () => {
    const format = /log-format '(.*)'\n/.exec(text)?.[1] ?? '';
    expect(format).toBe(accessLogFormat());
    expect([...format.matchAll(/"(\w+)":/g)].map((m) => m[1])).toEqual([...accessLogKeys]);
    expect(format).toContain('"path":"%[var(txn.path),json(utf8s)]"');
    expect(renderHaproxyConfig(state)).not.toContain('log-format');
  });

  it('gives a rate with its burst as a window', () => {
    expect(rateWindowMs(0.1, 3)).toBe(30_000);
    expect(rateWindowMs(500, 5_000)).toBe(10_000);
  });
});

describe('renderErrorPages', () => {
  const files = renderErrorPages();

  it('renders a branded page for every status, and a whole answer for those HAProxy sends itself', () => {
    expect(files.filter((f) => f.name.endsWith('.html')).map((f) => f.name)).toEqual([
      ...errorPageStatuses.map((status) => `${status}.html`),
      'maintenance.html',
    ]);
    for (const file of files.filter((f) => f.name.endsWith('.http'))) {
      const [head, body] = file.content.split('\r\n\r\n');
      expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${file.name.slice(0, 3)} `));
      expect(head).toContain(`Content-Length: ${Buffer.byteLength(body ?? '')}`);
      expect(body).toContain('<div class="brand">Steward</div>');
    }
  });

  it('names no tenant and echoes nothing of a request', () => {
    const notFound = files.find((f) => f.name === '404.html')?.content ?? '';
    expect(notFound).toContain('No application is served at this address.');
    for (const file of files) expect(file.content).not.toMatch(/request id|%\[|\$\{/);
  });
});

describe('the rendered config in the real HAProxy', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("passes haproxy -c, and a broken one is refused with HAProxy's reason", async () => {
    const fixture = await dataPlaneFixture(
      [
        { name: 'st_a', tenant: 'acme', publishedPort: 41_001 },
        {
          name: 'st_b',
          slots: 4,
          publishedPort: 41_002,
          servers: [{ name: 'web-1', address: '127.0.0.1', port: 9000, state: 'drain' }],
        },
      ],
      { activator: { address: '127.0.0.1', port: 3001 }, accessLog: '/run/st-test/access.sock' },
    );
    dirs.push(fixture.dir);
    const haproxy = fixtureHaproxy(fixture);
    await haproxy.validate();
    writeFileSync(fixture.configFile, 'global\n    no-such-keyword\n');
    await expect(haproxy.validate()).rejects.toThrow(/no-such-keyword/);
  });
});
