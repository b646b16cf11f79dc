import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  type ConsoleAccount,
  expectAccessible,
  openPage,
  startTestConsole,
  type TestConsole,
} from '../harness/console.ts';

/**
 * The operator's operations journeys through the console in Debian's
 * Chromium, served by Steward's data plane: acknowledge an alert; open,
 * update and close an incident with a post-mortem (the API's refusals shown
 * where they belong); download an SLA report as PDF; create a token whose
 * secret is shown once; axe-core on every page of the ops areas, and
 * screenshots (a phone's too).
 */
let c: TestConsole;
let ops: ConsoleAccount;
let page: Page;
const slug = `ops${Date.now().toString(36).slice(-5)}`;
const month = new Date().toISOString().slice(0, 7);

const noViolations = (name: string): Promise<void> => expectAccessible(c, page, name);

const open = (path: string, heading: string | RegExp): Promise<void> => openPage(c, page, path, heading);

beforeAll(async () => {
  // No workers: the tenant is rows only (nothing to provision), alerts and incidents are the API's.
  c = await startTestConsole({ workers: false });
  const created = await c.t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
  expect(created.status, created.text).toBe(201);
  ops = await c.operator('opal', 'owner');
  // Rows for the pages' tables, so that axe checks them with their actions.
  const week = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 16).replace('T', ' ');
  for (const [path, body] of [
    ['/api/v1/silences', { tenant: slug, for: '2h', reason: 'a noisy deploy' }],
    [
      '/api/v1/maintenance-windows/plan',
      { tenant: slug, at: week, tz: 'UTC', for: '2h', reason: 'PostgreSQL 16' },
    ],
    [`/api/v1/tenants/${slug}/stages/prod/checks`, { path: '/health' }],
    [
      '/api/v1/oncall/schedules',
      { name: 'primary', rotation: 'weekly', tz: 'Europe/Berlin', members: ['opal'] },
    ],
    ['/api/v1/notification-channels', { kind: 'email', target: 'ops@example.com' }],
  ] as const) {
    const seeded = await c.t.request('POST', path, body);
    expect(seeded.status, `${path}: ${seeded.text}`).toBe(201);
  }
  page = await c.newPage();
  await c.signIn(page, ops);
}, 180_000);

afterAll(async () => {
  await c?.close();
});

describe('the console: operations', () => {
  it('acknowledges an alert from the list, resolves it with a note and silences its stage', async () => {
    const alert = await c.t.services.alerts.raise({
      source: 'watchdog',
      dedupKey: `console-${slug}`,
      tenant: slug,
      stage: 'prod',
      severity: 'critical',
      summary: `${slug} prod answers 503`,
    });
    await open('/alerts?open=true', 'Alerts');
    const ack = page.getByRole('button', { name: `Acknowledge: ${slug} prod answers 503 (${alert.id})` });
    await noViolations('alerts');
    await c.screenshot(page, 'alerts');
    await ack.click();
    await page
      .getByRole('status')
      .filter({ hasText: `Alert ${alert.id} acknowledged.` })
      .waitFor();
    await expect.poll(() => ack.count()).toBe(0);
    const stored = await c.t.request('GET', `/api/v1/alerts/${alert.id}`);
    expect(stored.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'operator:opal' });

    await open(`/alerts/${alert.id}`, `Alert ${alert.id}`);
    await page.getByText('acknowledged', { exact: true }).first().waitFor();
    await noViolations('alert detail');
    await c.screenshot(page, 'alert');

    // Resolved by hand, with a note saying why; then its stage silenced from its page.
    await page.getByRole('button', { name: 'Resolve' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Why is it resolved?').fill('fixed by hand: pool raised');
    await dialog.getByRole('button', { name: 'Resolve' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Alert ${alert.id} resolved.` })
      .waitFor();
    const resolved = await c.t.request('GET', `/api/v1/alerts/${alert.id}`);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolveNote: 'fixed by hand: pool raised' });
    await page.getByRole('link', { name: 'Silence its stage' }).click();
    const form = page.getByRole('form', { name: 'Add a silence' });
    expect(await form.getByLabel('Tenant').inputValue()).toBe(slug);
    await form.getByLabel('Reason').fill('pool resize in progress');
    await form.getByRole('button', { name: 'Add a silence' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Silence \d+ added\./ })
      .waitFor();
    await page.getByRole('cell', { name: 'pool resize in progress' }).waitFor();
  });

  it('opens, updates and closes an incident with a post-mortem', async () => {
    await open('/incidents', 'Incidents');
    await page.getByRole('button', { name: 'Open an incident' }).click();
    const form = page.getByRole('form', { name: 'Open an incident' });
    await form.getByLabel('Title').fill('Sign-in fails for acme users');
    await form.getByLabel('Severity').selectOption('2');
    await form.getByLabel('Tenant').fill(slug);
    await noViolations('open incident form');
    await form.getByRole('button', { name: 'Open an incident' }).click();
    await page.getByRole('heading', { name: /^Incident \d+: Sign-in fails/, level: 1 }).waitFor();
    const id = /\/incidents\/(\d+)$/.exec(page.url())?.[1] ?? '';
    expect(id).not.toBe('');

    await page.getByLabel('Status', { exact: true }).selectOption('resolved');
    await page.getByLabel('Note').fill('Pool size raised; sign-in works again');
    await page.getByRole('button', { name: 'Post an update' }).click();
    await page.getByRole('status').filter({ hasText: 'Update posted.' }).waitFor();
    await page
      .getByRole('list')
      .getByText(/Pool size raised/)
      .waitFor();

    // Severity 2 closes only with a post-mortem: the API says so in the dialog, which stays open.
    await page.getByRole('button', { name: 'Close the incident' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Close the incident' }).click();
    await dialog
      .getByRole('alert')
      .filter({ hasText: /post-?mortem/i })
      .waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // A bad due date: the API's message lands under that input.
    await page.getByLabel('Cause').fill('The connection pool ran out after release 2.3.');
    await page.getByLabel('Impact').fill('Sign-in failed for every acme user for 42 minutes.');
    await page.getByLabel('Minutes against the SLA').fill('42');
    await page.getByLabel('Action', { exact: true }).fill('Limit queries per login in the release checklist');
    await page.getByLabel('Action owner (login)').fill('opal');
    const due = page.getByLabel('Action due (YYYY-MM-DD)');
    await due.fill('2026-02-30');
    await page.getByRole('button', { name: 'Save the post-mortem' }).click();
    await expect.poll(() => due.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field-invalid .field-error').innerText()).toContain('2026-02-30');
    await noViolations('incident with a field error');
    await due.fill('2026-12-20');
    await page.getByRole('button', { name: 'Save the post-mortem' }).click();
    await page.getByRole('status').filter({ hasText: 'Post-mortem saved.' }).waitFor();

    await page.getByRole('button', { name: 'Close the incident' }).click();
    await dialog.getByRole('button', { name: 'Close the incident' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Incident ${id} closed.` })
      .waitFor();
    await noViolations('closed incident');
    await c.screenshot(page, 'incident');
    const stored = await c.t.request('GET', `/api/v1/incidents/${id}`);
    expect(stored.body).toMatchObject({ status: 'resolved', closedBy: 'operator:opal' });
    expect(stored.body.postmortem.actions[0]).toEqual({
      what: 'Limit queries per login in the release checklist',
      owner: 'opal',
      due: '2026-12-20',
    });
  });

  it("confirms a security incident's breach and shows its notice deadlines", async () => {
    const opened = await c.t.request('POST', '/api/v1/incidents', {
      tenant: slug,
      severity: 1,
      title: 'Export bucket readable by others',
      security: true,
    });
    expect(opened.status, opened.text).toBe(201);
    await open(`/incidents/${opened.body.id}`, /Export bucket readable/);
    await page.getByText('No breach confirmed: no notice deadlines run.').waitFor();
    await page.getByRole('button', { name: 'Confirm a breach' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm a breach' }).click();
    await page.getByRole('status').filter({ hasText: 'Breach confirmed' }).waitFor();
    const deadlines = page.getByRole('region', { name: 'Notice deadlines' });
    await deadlines.getByText(/Supervisory authority \(GDPR Art\. 33\): due/).waitFor();
    await deadlines.getByText(/Affected customers: due/).waitFor();
    await page.getByRole('combobox', { name: 'Who was told' }).selectOption('authority');
    await page.getByLabel('Told by whom, through what').fill('opal, by the authority’s web form');
    await page.getByRole('button', { name: 'Record a notice' }).click();
    await deadlines.getByText('notified', { exact: true }).waitFor();
    await noViolations('security incident');
    await c.screenshot(page, 'incident-security');
  });

  it('downloads an SLA report as PDF', async () => {
    const policy = await c.t.request('PUT', `/api/v1/tenants/${slug}/sla/policy`, {
      target: 99.9,
      effectiveFrom: `${month}-01T00:00:00Z`,
    });
    expect(policy.status, policy.text).toBe(201);
    await open(`/sla?tenant=${slug}&period=${month}`, 'SLA reports');
    const link = page.getByRole('link', { name: 'Download the PDF' });
    await link.waitFor();
    await noViolations('SLA report');
    await c.screenshot(page, 'sla');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe(`sla-${slug}-${month}.pdf`);
    const bytes = await readFile(await download.path());
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(bytes.length).toBeGreaterThan(1000);
  });

  it('plans a maintenance window, a bad length named under its field', async () => {
    await open('/maintenance', 'Maintenance windows');
    const form = page.getByRole('form', { name: 'Plan a window' });
    await form.getByLabel('Tenant').fill(slug);
    const at = new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10);
    await form.getByLabel(/^Starts at/).fill(`${at} 22:00`);
    await form.getByLabel(/^Time zone/).fill('Europe/Berlin');
    const length = form.getByLabel(/^Length/);
    await length.fill('two hours');
    await form.getByLabel('Reason').fill('PostgreSQL minor upgrade');
    await form.getByRole('button', { name: 'Plan a window' }).click();
    await expect.poll(() => length.getAttribute('aria-invalid')).toBe('true');
    await length.fill('90m');
    await form.getByRole('button', { name: 'Plan a window' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Window \d+ planned\./ })
      .waitFor();
    await page.getByRole('cell', { name: 'PostgreSQL minor upgrade' }).waitFor();
  });

  it("resets an operator's MFA", async () => {
    await c.operator('mia', 'operator');
    await open('/access/operators', 'Operators');
    await page.getByRole('button', { name: 'Reset MFA: mia' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset MFA' }).click();
    await page.getByRole('status').filter({ hasText: 'MFA of mia reset.' }).waitFor();
    const listed = await c.t.request('GET', '/api/v1/operators');
    expect(listed.body.operators.find((o: { username: string }) => o.username === 'mia')).toMatchObject({
      mfa: false,
    });
  });

  it('creates an API token and shows its secret once', async () => {
    await open('/access/tokens', 'API tokens');
    await page.getByLabel('Name').fill('console-ci');
    await page.getByRole('button', { name: 'Create a token' }).click();
    const secret = page.getByLabel('The token');
    await secret.waitFor();
    const token = (await secret.innerText()).trim();
    expect(token).toMatch(/^stw_/);
    // The secret works, and it is in no list: a reload shows the token without it.
    const whoami = await c.t.request('GET', '/api/v1/auth/whoami', undefined, token);
    expect(whoami.body.username).toBe('opal');
    await noViolations('tokens');
    await page.reload();
    await page.getByRole('rowheader', { name: 'console-ci' }).waitFor();
    expect(await page.content()).not.toContain(token);
  });

  it.each([
    ['/silences', 'Silences'],
    [`/checks?tenant=${slug}`, 'Checks'],
    ['/maintenance', 'Maintenance windows'],
    ['/oncall', 'On call'],
    ['/oncall/primary', 'Schedule primary'],
    ['/backups', 'Backups and restores'],
    ['/backups?tab=tests', 'Backups and restores'],
    ['/backups/restore-tests/404', 'Restore test 404'],
    [`/backups?tab=stage&tenant=${slug}&stage=prod`, 'Backups and restores'],
    [`/backups?tab=restores&tenant=${slug}`, 'Backups and restores'],
    ['/audit', 'Audit log'],
    ['/access/operators', 'Operators'],
    [`/settings?tenant=${slug}`, 'Settings'],
    ['/settings?tab=notifications', 'Settings'],
    ['/settings?tab=keys', 'Settings'],
    ['/settings?tab=system', 'Settings'],
  ])('%s has no accessibility violations', async (path, heading) => {
    await open(path, heading);
    // Settled: no table fetching, nothing still loading (an SSE stream keeps the network busy for good).
    await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
    await expect.poll(() => page.getByText('Loading…').count()).toBe(0);
    await noViolations(path);
    await c.screenshot(page, `ops${path.replace(/[^a-z]+/g, '-')}`.replace(/-+$/, ''));
  });

  it('shows the effective limits, the changed ones marked, and the regions with their tenants', async () => {
    // The test harness gives Steward 1,000 uids (default 100,000): a changed limit.
    await open('/settings?tab=limits', 'Settings');
    const uids = page.getByRole('row', { name: /^uidCount/ });
    await uids.getByText('changed', { exact: true }).waitFor();
    expect(await uids.getByRole('cell').allInnerTexts()).toEqual([
      '1,000 changed',
      '100,000',
      'runtime.uidCount',
      'uids this Steward owns: one for builds, one per stage',
    ]);
    const body = page.getByRole('row', { name: /^maxBodyBytes/ });
    expect(await body.getByRole('cell').allInnerTexts()).toEqual([
      '10 MiB',
      '10 MiB',
      'gateway.limits.maxBodyBytes',
      'size of a request body; beyond: 413',
    ]);
    await noViolations('settings limits');
    await c.screenshot(page, 'settings-limits');
    await page.getByLabel('Only limits that differ from the default').check();
    await page.waitForURL(/changed=true/);
    await expect.poll(() => page.getByRole('row', { name: /^maxBodyBytes/ }).count()).toBe(0);

    await page.getByRole('tab', { name: 'Regions' }).click();
    const local = page.getByRole('row', { name: /^local default/ });
    await local.waitFor();
    expect(await local.getByRole('cell').allInnerTexts()).toEqual(['local', '1', '1', '–']);
    await noViolations('settings regions');
    await c.screenshot(page, 'settings-regions');
  });

  it('verifies the audit log', async () => {
    await open(`/audit?tenant=${slug}`, 'Audit log');
    await page.getByRole('button', { name: 'Verify the log' }).click();
    await page
      .getByRole('status', { name: 'Verify the log' })
      .getByText(/The log verifies/)
      .waitFor();
    await page.getByRole('cell', { name: 'tenant.create' }).first().waitFor();
    await noViolations('audit verified');
  });

  it('reads on a phone, in German', async () => {
    page = await c.newPage({ phone: true, locale: 'de-DE' });
    await c.useSession(page, ops);
    await open('/incidents', 'Störungen');
    await noViolations('incidents on a phone');
    await c.screenshot(page, 'incidents-phone-de');
    await open('/alerts', 'Alarme');
    await c.screenshot(page, 'alerts-phone-de');
  });
});
