import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markAnnounced, insertMaintenanceWindow } from '../../src/maintenance/store.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { dayMs } from '../../src/status/model.ts';
import { httpsFetch } from '../gateway/support.ts';
import { saveScreenshot, serverSpki } from '../harness/browser.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { gatewayCheckHistory } from './support.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';
import { eventually } from '../backups/support.ts';

/**
 * The public status page through the real gateway (TLS from Steward's CA):
 * the vendor's page and a tenant's private-link page, their content from
 * check intervals, public incident updates and announced maintenance, what
 * they must never show, wrong and rotated links, size and caching; then
 * Debian's Chromium loads it in desktop and phone sizes and axe-core checks it.
 */
let st: TestSteward;
let control: ControlStore;
let port: number;
let ca: string;
let acmePath: string;
let mail: MailServer;
const host = 'status.localhost';
const now = Date.now();
const today = Math.floor(now / dayMs) * dayMs;
const day = (offset: number): string => new Date(today + offset * dayMs).toISOString().slice(0, 10);

const get = (path: string, headers: Record<string, string> = {}) =>
  httpsFetch({ port, host, path, ca, headers });

beforeAll(async () => {
  mail = await startMailServer({ user: 'status-mailer', password: 'status-mail-secret' });
  st = await startTestSteward({
    workers: false,
    gateway: true,
    config: {
      statusPage: { cacheSeconds: 2 },
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'status@example.com' },
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        timeoutSeconds: 2,
        pollSeconds: 0.1,
      },
    },
  });
  await st.services.notifications.keepSmtpCredentials('status-mailer', 'status-mail-secret');
  await st.services.notifications.start();
  control = openControlStore(st.controlUrl, { max: 2 });
  port = st.steward.gatewayAddress?.port ?? 0;
  ca = await readFile(join(st.dataDir, 'ca.pem'), 'utf8');
  for (const [slug, stages] of [
    ['acme', ['dev', 'test', 'prod']],
    ['globex', ['prod']],
  ] as const) {
    const created = await st.request('POST', '/api/v1/tenants', {
      slug,
      stages,
      displayName: `${slug} Corp`,
    });
    expect(created.status, created.text).toBe(201);
  }
  const h = 3_600_000;
  await gatewayCheckHistory(st, control.db, 'acme', 'prod', [
    [today - 95 * dayMs, 'up'],
    [today - 20 * dayMs, 'degraded'], // 2 h at weight 0.5: 95.833 %
    [today - 20 * dayMs + 2 * h, 'up'],
    [today - 10 * dayMs + 10 * h, 'down'], // 2 h: 91.667 %
    [today - 10 * dayMs + 12 * h, 'up'],
    [today - 5 * dayMs, 'unknown'], // a whole day nobody probed: no data, never up
    [today - 4 * dayMs, 'up'],
  ]);
  await gatewayCheckHistory(st, control.db, 'acme', 'test', [
    [today - 95 * dayMs, 'up'],
    [now - 30 * 60_000, 'down'],
  ]);
  await gatewayCheckHistory(st, control.db, 'globex', 'prod', [[today - 95 * dayMs, 'up']]);

  const incident = async (tenant: string, title: string, notes: [string, boolean][], resolve: boolean) => {
    const opened = await st.request('POST', '/api/v1/incidents', {
      tenant,
      stage: 'prod',
      severity: 3,
      title,
    });
    expect(opened.status, opened.text).toBe(201);
    const id = opened.body.id as string;
    for (const [note, isPublic] of notes) {
      const r = await st.request('POST', `/api/v1/incidents/${id}/updates`, { note, public: isPublic });
      expect(r.status, r.text).toBe(200);
    }
    if (resolve) {
      const r = await st.request('POST', `/api/v1/incidents/${id}/updates`, {
        status: 'resolved',
        note: 'Fixed and verified.',
        public: true,
      });
      expect(r.status, r.text).toBe(200);
    }
  };
  await incident(
    'acme',
    'Login errors',
    [
      ['We are looking into failed sign-ins.', true],
      ['internal: pool of db on 127.0.0.1 exhausted', false],
    ],
    false,
  );
  await incident('acme', 'Slow exports', [['Exports were slow; a fix is rolling out.', true]], true);
  await incident('globex', 'Globex payroll outage', [['Payroll is down.', true]], false);
  const window = await insertMaintenanceWindow(control.db, {
    tenant: 'acme',
    stage: 'prod',
    reason: 'Database upgrade',
    startsAt: new Date(today + 2 * dayMs + 22 * h),
    endsAt: new Date(today + 3 * dayMs),
    createdBy: 'operator:admin',
  });
  await markAnnounced(control.db, window.id, new Date(now));
  // Not yet announced: not on the page.
  await insertMaintenanceWindow(control.db, {
    tenant: 'acme',
    stage: 'prod',
    reason: 'Secret migration',
    startsAt: new Date(today + 20 * dayMs),
    endsAt: new Date(today + 21 * dayMs),
    createdBy: 'operator:admin',
  });
  const link = await st.request('POST', '/api/v1/tenants/acme/status/link', { stages: ['test', 'prod'] });
  expect(link.status, link.text).toBe(200);
  acmePath = link.body.path as string;
  expect(acmePath).toMatch(/^\/t\/[A-Za-z0-9_-]{43}$/);
}, 120_000);

afterAll(async () => {
  await control?.close();
  await st?.close();
  await mail?.close();
});

/** A mail's text with quoted-printable soft breaks undone. */
const text = (raw: string): string => raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
const mailsTo = (address: string): string[] =>
  mail.mails.filter((m) => m.to.includes(address)).map((m) => text(m.raw));
const post = (path: string, body: string) =>
  httpsFetch({
    port,
    host,
    path,
    ca,
    method: 'POST',
    // As a browser sends it: with the port, which the links in emails keep.
    headers: { 'content-type': 'application/x-www-form-urlencoded', host: `${host}:${port}` },
    body,
  });

describe('status page', () => {
  it("shows a tenant's components, bars, incidents and maintenance through the gateway, and nothing else", async () => {
    const page = await get(acmePath);
    expect(page.status, page.body).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('private, max-age=2');
    expect(Buffer.byteLength(page.body)).toBeLessThanOrEqual(50 * 1024);
    const body = page.body;
    expect(body).toContain('<title>acme Corp status</title>');
    // prod first, then test; dev is not public.
    expect(body.indexOf('<h3>Production</h3>')).toBeGreaterThan(0);
    expect(body.indexOf('<h3>Production</h3>')).toBeLessThan(body.indexOf('<h3>Test</h3>'));
    expect(body).not.toContain('Development');
    expect(body).toMatch(/<h3>Test<\/h3><span class="st t-outage">Outage<\/span>/);
    expect(body).toMatch(/<h3>Production<\/h3><span class="st t-operational">Operational<\/span>/);
    expect(body).toContain('Some systems are down');
    // The bars: the SLA timeline's arithmetic per UTC day; the unknown day is no data, not up.
    expect(body).toContain(`${day(-10)} 91.67 %`);
    expect(body).toContain(`${day(-20)} 95.83 %`);
    expect(body).toContain('1 day without data');
    expect(body).toContain(`title="${day(-5)}: no data"`);
    expect((body.match(/<span class="b-/g) ?? []).length).toBe(180);
    // Incidents: the current one with its public update, the resolved one in history.
    const current = body.slice(body.indexOf('h-current'), body.indexOf('h-maintenance'));
    expect(current).toContain('Login errors');
    expect(current).toContain('We are looking into failed sign-ins.');
    const history = body.slice(body.indexOf('h-history'));
    expect(history).toContain('Slow exports');
    expect(history).toContain('Fixed and verified.');
    const maintenance = body.slice(body.indexOf('h-maintenance'), body.indexOf('h-components'));
    expect(maintenance).toContain('Database upgrade');
    // Never: another tenant, a non-public note, unannounced maintenance, internal names.
    for (const secret of [
      'globex',
      'Globex',
      'Payroll',
      'internal:',
      '127.0.0.1',
      'Secret migration',
      await st.database('acme', 'prod'),
      'gateway',
      'check',
      '<script',
    ]) {
      expect(body).not.toContain(secret);
    }
  });

  it("serves the vendor's page without any tenant's name, incident or maintenance", async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('public, max-age=2');
    expect(page.body).toContain('<title>Service status</title>');
    expect(page.body).toContain('<h3>Application</h3>');
    // acme's test stage is down, but only prod counts here: every prod is up.
    expect(page.body).toContain('All systems operational');
    for (const secret of ['acme', 'globex', 'Login errors', 'Payroll', 'Database upgrade']) {
      expect(page.body).not.toContain(secret);
    }
    expect(Buffer.byteLength(page.body)).toBeLessThanOrEqual(50 * 1024);
  });

  it('answers a wrong, malformed or rotated token with the same 404 page, and a new token at once', async () => {
    const wrong = await get(`/t/${'A'.repeat(43)}`);
    expect(wrong.status).toBe(404);
    expect(wrong.body).toContain('There is no status page at this address');
    for (const path of ['/t/short', `${acmePath}x`, '/admin', '/t/', `/T${acmePath.slice(2)}`]) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body).toBe(wrong.body);
    }
    expect((await httpsFetch({ port, host, path: acmePath, ca, method: 'PUT' })).status).toBe(405);
    // Only the hash is stored.
    const stored = await st.query<{ h: string }>(
      `select encode(token_sha256, 'hex') as h from status_links where tenant_slug = 'acme'`,
      [],
      st.controlDatabase,
    );
    expect(stored[0]?.h).toMatch(/^[0-9a-f]{64}$/);
    expect(stored[0]?.h).not.toContain(acmePath.slice(3));
    // Asking again does not show the token again.
    const again = await st.request('POST', '/api/v1/tenants/acme/status/link', {});
    expect(again.body).toMatchObject({ url: null, path: null, stages: ['prod', 'test'] });
    const rotated = await st.request('POST', '/api/v1/tenants/acme/status/link', { rotate: true });
    expect(rotated.status).toBe(200);
    expect(rotated.body.url).toMatch(/^https:\/\/status\.localhost(:\d+)?\/t\//);
    expect((await get(acmePath)).status).toBe(404);
    const fresh = await get(rotated.body.path as string);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toContain('Login errors');
    acmePath = rotated.body.path as string;
    const events = await st.request('GET', '/api/v1/audit?tenant=acme');
    const actions = JSON.stringify(events.body);
    expect(actions).toContain('status.link.create');
    expect(actions).toContain('status.link.rotate');
    expect(actions).not.toContain(acmePath.slice(3));
  });

  it('refuses bad input naming the field, the value and what is accepted, and changes nothing', async () => {
    const bad = await st.request('POST', '/api/v1/tenants/acme/status/link', { stages: ['prod', 'staging'] });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('stages: "staging" is not a stage of tenant acme; accepted: ');
    const missing = await st.request('POST', '/api/v1/tenants/nobody/status/link', {});
    expect(missing.status).toBe(404);
    const unchanged = await st.request('POST', '/api/v1/tenants/acme/status/link', {});
    expect(unchanged.body.stages).toEqual(['prod', 'test']);
  });

  it('renders at most every cacheSeconds and answers a repeated reader with 304', async () => {
    const first = await get(acmePath);
    const etag = String(first.headers.etag);
    expect((await get(acmePath, { 'if-none-match': etag })).status).toBe(304);
    const opened = await st.request('POST', '/api/v1/incidents', {
      tenant: 'acme',
      stage: 'prod',
      severity: 4,
      title: 'Slow search',
    });
    await st.request('POST', `/api/v1/incidents/${opened.body.id as string}/updates`, {
      note: 'Search is slow.',
      public: true,
    });
    // Within cacheSeconds: the same bytes. After it: the new post.
    expect((await get(acmePath)).body).toBe(first.body);
    await new Promise((r) => setTimeout(r, 2100));
    await get(acmePath); // serves the stale page once while rendering anew
    await new Promise((r) => setTimeout(r, 200));
    expect((await get(acmePath)).body).toContain('Search is slow.');
  });
});

describe('email subscriptions', () => {
  it('double opt-in: a confirmation email with a single-use link, news only when confirmed, unsubscribe in every email', async () => {
    const bad = await post(acmePath, 'email=not-an-address');
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('Field &#34;email&#34;: &#34;not-an-address&#34; is not accepted');
    expect((await post('/', 'email=ann@example.com')).status).toBe(404);

    const asked = await post(acmePath, 'email=Ann%40Example.com');
    expect(asked.status, asked.body).toBe(200);
    expect(asked.body).toContain('Check your inbox');
    const confirmation = await eventually('the confirmation email', () =>
      Promise.resolve(mailsTo('ann@example.com')[0]),
    );
    expect(confirmation).toContain('Confirm your subscription to acme Corp status');
    const confirmPath = /https:\/\/status\.localhost:\d+(\/confirm\/[A-Za-z0-9_-]{43})/.exec(
      confirmation,
    )?.[1];
    expect(confirmPath).toBeDefined();
    expect(confirmation).toMatch(/Unsubscribe: https:\/\/status\.localhost:\d+\/unsubscribe\//);
    // Nothing reaches an unconfirmed address.
    expect((await post(acmePath, 'email=bob%40example.com')).status).toBe(200);
    await eventually("bob's confirmation", () => Promise.resolve(mailsTo('bob@example.com')[0]));

    // GET only shows a button (mail scanners follow links); POST confirms, once.
    const shown = await get(confirmPath ?? '');
    expect(shown.status).toBe(200);
    expect(shown.body).toContain('<button type="submit">Confirm</button>');
    expect((await post(confirmPath ?? '', '')).status).toBe(200);
    expect((await post(confirmPath ?? '', '')).status).toBe(404);
    expect((await get(confirmPath ?? '')).status).toBe(404);
    expect((await post(`/confirm/${'B'.repeat(43)}`, '')).status).toBe(404);

    // A new public update and announced maintenance reach ann, once each; not bob.
    const opened = await st.request('POST', '/api/v1/incidents', {
      tenant: 'acme',
      stage: 'prod',
      severity: 3,
      title: 'Mail delays',
    });
    await st.request('POST', `/api/v1/incidents/${opened.body.id as string}/updates`, {
      note: 'Outgoing mail is delayed.',
      public: true,
    });
    await st.request('POST', `/api/v1/incidents/${opened.body.id as string}/updates`, {
      note: 'internal only',
      public: false,
    });
    const window = await insertMaintenanceWindow(control.db, {
      tenant: 'acme',
      stage: null,
      reason: 'Network work',
      startsAt: new Date(Date.now() + 3 * dayMs),
      endsAt: new Date(Date.now() + 3 * dayMs + 3_600_000),
      createdBy: 'operator:admin',
    });
    await markAnnounced(control.db, window.id, new Date());
    expect(await st.services.status.subscriptions.notifyPass()).toBeGreaterThanOrEqual(2);
    await st.services.status.subscriptions.notifyPass();
    const news = await eventually('two news emails', () => {
      const all = mailsTo('ann@example.com');
      return Promise.resolve(all.length >= 3 ? all : undefined);
    });
    await new Promise((r) => setTimeout(r, 500));
    const annMails = mailsTo('ann@example.com');
    expect(annMails.filter((m) => m.includes('Outgoing mail is delayed.'))).toHaveLength(1);
    expect(annMails.filter((m) => m.includes('Network work'))).toHaveLength(1);
    expect(annMails.join('\n')).not.toContain('internal only');
    expect(mailsTo('bob@example.com')).toHaveLength(1);
    const unsubscribePath = /https:\/\/status\.localhost:\d+(\/unsubscribe\/[A-Za-z0-9_-]{43})/.exec(
      news.find((m) => m.includes('Network work')) ?? '',
    )?.[1];
    expect((await get(unsubscribePath ?? '')).body).toContain('<button type="submit">Unsubscribe</button>');
    expect((await post(unsubscribePath ?? '', '')).status).toBe(200);
    await st.request('POST', `/api/v1/incidents/${opened.body.id as string}/updates`, {
      note: 'Mail flows again.',
      public: true,
    });
    await st.services.status.subscriptions.notifyPass();
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo('ann@example.com').join('\n')).not.toContain('Mail flows again.');
  });

  it('limits subscription requests per address, whatever its case', async () => {
    for (let i = 0; i < 2; i++) expect((await post(acmePath, 'email=carl%40example.com')).status).toBe(200);
    expect((await post(acmePath, 'email=CARL%40example.com')).status).toBe(200);
    const limited = await post(acmePath, 'email=carl%40example.com');
    expect(limited.status).toBe(429);
    expect(limited.body).toContain('Too many requests');
  });
});

describe('status page in a browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    // Chromium trusts the status host's certificate by its key, after Node verified it against Steward's CA.
    const spki = await serverSpki(port, host, ca);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', `--ignore-certificate-errors-spki-list=${spki}`],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('loads on a desktop and a phone, shows the content, and axe-core finds no violations', async () => {
    const axe = await readFile(join(process.cwd(), 'node_modules/axe-core/axe.min.js'), 'utf8');
    const artifacts = join(process.cwd(), 'test-artifacts/status');
    await mkdir(artifacts, { recursive: true });
    for (const [name, viewport] of [
      ['desktop', { width: 1280, height: 800 }],
      ['phone', { width: 390, height: 844 }],
    ] as const) {
      const context = await browser.newContext({
        viewport,
        // Only so that axe can be injected: the page itself allows no script.
        bypassCSP: true,
        ...(name === 'phone' ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
      });
      const page = await context.newPage();
      // status.localhost resolves to loopback in Chromium, as *.localhost does everywhere.
      const url = `https://${host}:${port}${acmePath}`;
      const response = await page.goto(url, { waitUntil: 'load' }).catch((error: unknown) => {
        throw new Error(`loading ${url}: ${(error as Error).message}`);
      });
      expect(response?.status()).toBe(200);
      await expect(page.locator('h1').textContent()).resolves.toBe('acme Corp status');
      expect(await page.locator('section[aria-labelledby="h-components"] h3').allTextContents()).toEqual([
        'Production',
        'Test',
      ]);
      expect(await page.getByText('Login errors').count()).toBe(1);
      expect(await page.getByText('Database upgrade').count()).toBe(1);
      expect(await page.locator('.bars[role="img"]').count()).toBe(2);
      // Readable on a phone: nothing wider than the screen.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.addScriptTag({ content: axe });
      const violations = await page.evaluate(async () => {
        const result = await (
          window as unknown as { axe: { run(): Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }
        ).axe.run();
        return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
      });
      expect(violations).toEqual([]);
      const shot = join(artifacts, `status-${name}.png`);
      await saveScreenshot(page, { path: shot, fullPage: name === 'desktop' });
      if (process.env.STEWARD_UPDATE_SCREENSHOTS === '1') {
        await copyFile(shot, join(process.cwd(), 'docs/images', `status-${name}.png`));
      }
      await context.close();
    }
  }, 60_000);
});
