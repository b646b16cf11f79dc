import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { serveStageFrom } from '../dataplane/serve.ts';
import { httpsFetch, startEchoBackend, within } from '../gateway/support.ts';
import { startTestConsole, type ConsoleAccount, type TestConsole } from '../harness/console.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';

/**
 * A tenant admin's journey in Debian's Chromium, through the real HAProxy
 * edge of a real Steward: an operator invites the customer's IT person (the
 * API, mailed through a real SMTP server); the person accepts with the
 * mailed code, sets a password and enrols TOTP, signs in to the console, creates a
 * SCIM token that the page shows once, and the token provisions a user over
 * SCIM. Another tenant stays out of reach: its URL shows a refusal, and the
 * API refuses the admin's cookie for it. Every page of the tenant admin is
 * checked by axe-core and photographed (desktop; the main ones on a phone;
 * one in German).
 */
const smtp = { user: 'console-mailer', password: 'console-smtp-secret' };
const suffix = Math.random().toString(36).slice(2, 7);
const tenant = `acme${suffix}`;
const other = `globex${suffix}`;
const email = `it-${suffix}@acme.example`;
const password = `${suffix}-a long enough password`;

let c: TestConsole;
let mail: MailServer;
let page: Page;
let admin: ConsoleAccount;
let gatewayPort = 0;
let ca = '';
let echo: Awaited<ReturnType<typeof startEchoBackend>> | undefined;

async function checked(name: string, target: Page = page): Promise<void> {
  const violations = await c.axe(target);
  expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  await c.screenshot(target, name);
}

/** The single-use code of the invitation mail (quoted-printable soft breaks undone). */
async function mailedCode(to: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await c.t.services.notifications.pass();
    const found = mail.mails.find((m) => m.to.includes(to));
    const code = found && /sti_[A-Za-z0-9_-]{43}/.exec(found.raw.replace(/=\r?\n/g, ''));
    if (code) return code[0];
    if (Date.now() > deadline) throw new Error(`no invitation mail to ${to}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  mail = await startMailServer(smtp);
  c = await startTestConsole({
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        timeoutSeconds: 2,
      },
    },
  });
  await c.t.services.notifications.keepSmtpCredentials(smtp.user, smtp.password);
  for (const slug of [tenant, other]) {
    const created = await c.t.request('POST', '/api/v1/tenants', {
      slug,
      displayName: slug.toUpperCase(),
      stages: ['prod'],
    });
    expect(created.status, created.text).toBe(201);
  }
  const policy = await c.t.request('PUT', `/api/v1/tenants/${tenant}/sla/policy`, { target: 99.9 });
  expect(policy.status, policy.text).toBe(201);
  gatewayPort = c.t.steward.gatewayAddress?.port ?? 0;
  ca = await readFile(join(c.t.dataDir, 'ca.pem'), 'utf8');
  page = await c.newPage();
}, 180_000);

afterAll(async () => {
  await echo?.close();
  await c?.close();
  await mail?.close();
});

describe("a tenant admin's console", () => {
  it('is reached by invitation: the admin accepts the mailed code, enrols TOTP, and signs in to the console with both', async () => {
    const invited = await c.t.request('POST', `/api/v1/tenants/${tenant}/admins`, { email });
    expect(invited.status, invited.text).toBe(201);
    // What the mailed link's page does (the edge's own page, tested in test/identity): accept, then enrol.
    const accepted = await c.t.request(
      'POST',
      '/api/v1/auth/tenant-admin/accept',
      { token: await mailedCode(email), password },
      null,
    );
    expect(accepted.status, accepted.text).toBe(201);
    const session = accepted.body.token as string;
    const enrolled = await c.t.request('POST', '/api/v1/auth/mfa/enroll', undefined, session);
    expect(enrolled.status, enrolled.text).toBe(200);
    admin = { username: email, password, role: 'operator', totpSecret: enrolled.body.secret, token: session };
    const verified = await c.t.request(
      'POST',
      '/api/v1/auth/mfa/verify',
      { code: await c.freshTotp(admin) },
      session,
    );
    expect(verified.status, verified.text).toBe(200);

    await page.goto(`${c.origin}/`);
    await c.signIn(page, admin);
    // Home is the tenant's status, its stage coming up live.
    await page.waitForURL(`**/t/${tenant}/status`);
    await page.getByRole('heading', { level: 1, name: `Status of ${tenant.toUpperCase()}` }).waitFor();
    // Its prod stage becomes ready while the page is open: a live update, no reload.
    await page
      .getByRole('listitem')
      .filter({ hasText: 'prod' })
      .getByText('ready', { exact: true })
      .waitFor({ timeout: 60_000 });
    await checked('tenant-admin-status');
  });

  it('creates a SCIM token by keyboard, shown once, and the token provisions a user over SCIM', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'SCIM' }).click();
    await page.getByRole('heading', { level: 1, name: 'SCIM provisioning' }).waitFor();
    await checked('tenant-admin-scim');
    // Keyboard only: the name field, then Enter submits the form.
    await page.getByLabel('Name', { exact: true }).focus();
    await page.keyboard.type('entra');
    await page.keyboard.press('Enter');
    const issued = page.getByRole('status').filter({ hasText: 'Token entra created' });
    await issued.waitFor();
    const token = ((await page.getByLabel('SCIM token').textContent()) ?? '').trim();
    expect(token).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
    const base = new URL(((await page.getByLabel('SCIM base URL').textContent()) ?? '').trim());
    expect(base.hostname).toBe(`${tenant}.localhost`);
    await checked('tenant-admin-scim-created');
    await expect(page.getByRole('row', { name: /entra/ }).textContent()).resolves.toContain('active');

    // The identity provider's side: the token works on the tenant's SCIM endpoint, through the edge.
    // The apex host is routed (and has its certificate) once prod is served: here by an echo server as the app.
    echo = await startEchoBackend();
    await serveStageFrom(c.t, tenant, 'prod', echo.port);
    const scim = (method: string, path: string, body?: unknown) =>
      httpsFetch({
        port: gatewayPort,
        host: `${tenant}.localhost`,
        path: `/scim/v2${path}`,
        method,
        ca: ca,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/scim+json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    await within(
      30_000,
      async () => (await scim('GET', '/ServiceProviderConfig').catch(() => undefined))?.status === 200,
      `a certificate for ${tenant}.localhost`,
    );
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: `anna-${suffix}@acme.example`,
      active: true,
    });
    expect(created.status, created.body).toBe(201);
    const listed = await scim('GET', '/Users');
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.body).totalResults).toBe(1);
    // Shown once: after a reload only its name, state and last use remain.
    await page.reload();
    await page.getByRole('row', { name: /entra/ }).waitFor();
    await expect(page.content()).resolves.not.toContain(token);
    // The user SCIM made is on the users page.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('rowheader', { name: `anna-${suffix}@acme.example` }).waitFor();
    await expect(
      page.getByRole('row', { name: new RegExp(`anna-${suffix}`) }).textContent(),
    ).resolves.toContain('scim');
    await checked('tenant-admin-users');
  });

  it("cannot reach another tenant: its URL shows a refusal, and the API refuses the admin's cookie", async () => {
    await page.goto(`${c.origin}/t/${other}/users`);
    await page.getByRole('heading', { level: 1, name: 'Not your tenant' }).waitFor();
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      `You administer tenant ${tenant}; tenant ${other} is not yours to see`,
    );
    await checked('tenant-admin-refused');
    // The API is the enforcer: the same session, asking directly (with its CSRF token for the change).
    const refused = await page.evaluate(
      async ({ other }) => {
        const session = (await (await fetch('/api/v1/console/session')).json()) as { csrfToken: string };
        const read = await fetch(`/api/v1/tenants/${other}/users`);
        const write = await fetch(`/api/v1/tenants/${other}/scim-tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
          body: JSON.stringify({ name: 'stolen' }),
        });
        return [
          { status: read.status, body: (await read.json()) as { message: string } },
          { status: write.status, body: (await write.json()) as { message: string } },
        ];
      },
      { other },
    );
    for (const answer of refused) {
      expect(answer.status).toBe(403);
      expect(answer.body.message).toBe(
        `a tenant admin of ${tenant} may only call routes of tenant ${tenant}`,
      );
    }
    const tokens = await c.t.request('GET', `/api/v1/tenants/${other}/scim-tokens`);
    expect(tokens.body.tokens).toEqual([]);
  });

  it('passes axe-core on every page of the tenant admin, on a desktop, (the main ones) on a phone and in German', async () => {
    const pages = [
      '',
      'incidents',
      'maintenance',
      'sla',
      'exports',
      'groups',
      'sso',
      'login-log',
      'break-glass',
    ];
    for (const path of pages) {
      await page.goto(`${c.origin}/t/${tenant}${path ? `/${path}` : ''}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      // Every read answered: no "Loading…" left.
      await expect.poll(() => page.getByText('Loading…').count()).toBe(0);
      await checked(`tenant-admin-${path || 'home'}`);
      if (path === 'sla') {
        // This month's report, and its PDF as a download (rendered by Chromium on Steward's side).
        await page.getByText('Availability', { exact: true }).waitFor();
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('link', { name: 'Download PDF' }).click(),
        ]);
        const pdf = await readFile((await download.path()) ?? '');
        expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      }
    }
    // A phone, signed in with the same session.
    const phone = await c.newPage({ phone: true });
    await phone.context().addCookies(await page.context().cookies());
    for (const path of ['', 'scim']) {
      await phone.goto(`${c.origin}/t/${tenant}${path ? `/${path}` : ''}`);
      await phone.getByRole('heading', { level: 1 }).waitFor();
      await checked(`tenant-admin-${path || 'status'}-phone`, phone);
    }
    // German, from the browser's language.
    const german = await c.newPage({ locale: 'de-DE' });
    await german.context().addCookies(await page.context().cookies());
    await german.goto(`${c.origin}/t/${tenant}/scim`);
    await german.getByRole('heading', { level: 1, name: 'SCIM-Bereitstellung' }).waitFor();
    await german.getByRole('row', { name: /entra/ }).getByText('aktiv').waitFor();
    await checked('tenant-admin-scim-de', german);
  });
});
