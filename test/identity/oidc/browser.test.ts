import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../../../src/tls/ca.ts';
import { saveScreenshot, serverSpki } from '../../harness/browser.ts';
import { startIdentityStage, type IdentityStage } from '../../harness/identity.ts';
import { startTestIdp, type TestIdp } from '../../harness/oidc-provider.ts';

/**
 * OIDC end to end in Debian's Chromium through the real edge (HAProxy): the
 * stage requires sign-in, the browser is sent to the sign-in page, clicks the
 * IdP's button, signs in at oidc-provider, and lands on the app signed in
 * (the app receives the identity JWT; the browser never sees an IdP token).
 */
let s: IdentityStage;
let idp: TestIdp;
let browser: Browser;
let dir: string;
let userId: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oidc-e2e-'));
  const ca = await createCa('Test IdP CA');
  const caFile = join(dir, 'idp-ca.pem');
  await writeFile(caFile, ca.certPem);
  s = await startIdentityStage({ config: { identity: { idpCaFile: caFile } } });
  idp = await startTestIdp({
    ca,
    clients: [
      {
        clientId: 'steward-e2e',
        clientSecret: 'e2e-client-secret-31415',
        redirectUris: [`https://${s.host}:${s.port}/.steward/auth/callback`],
      },
    ],
    accounts: [
      { id: 'ada-at-idp', claims: { email: 'ada@acme.example', email_verified: true, name: 'Ada L.' } },
    ],
  });
  userId = await s.addUser('ada', { email: 'ada@acme.example', name: 'Ada', groups: ['finance'] });
  const added = await s.t.request('POST', `/api/v1/tenants/${s.tenant}/identity/oidc`, {
    name: 'test-idp',
    label: 'Test IdP',
    kind: 'generic',
    issuer: idp.issuer,
    clientId: 'steward-e2e',
    clientSecret: 'e2e-client-secret-31415',
  });
  expect(added.status, added.text).toBe(201);
  // Chromium trusts the edge's and the IdP's certificates by their keys, after Node verified the edge's against Steward's CA.
  const edgeSpki = await serverSpki(s.port, s.host, s.ca);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      `--ignore-certificate-errors-spki-list=${edgeSpki},${idp.spki}`,
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await idp?.close();
  await s?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('OIDC sign-in in a browser through the edge', () => {
  it('click the IdP button, sign in at oidc-provider, land on the app signed in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`https://${s.host}:${s.port}/reports?month=11`);
    expect(new URL(page.url()).pathname).toBe('/.steward/auth/login');
    // For the README: the sign-in page with the IdP's button, and the IdP's page.
    const artifacts = join(process.cwd(), 'test-artifacts/oidc');
    await mkdir(artifacts, { recursive: true });
    await saveScreenshot(page, { path: join(artifacts, 'sign-in.png') });
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((url) => url.host === new URL(idp.origin).host);
    await page.fill('#login', 'ada-at-idp');
    await saveScreenshot(page, { path: join(artifacts, 'idp.png') });
    await page.getByRole('button', { name: 'Sign in at the IdP' }).click();
    await page.waitForURL((url) => url.host === `${s.host}:${s.port}` && url.pathname === '/reports');
    expect(page.url()).toBe(`https://${s.host}:${s.port}/reports?month=11`);
    const echoed = JSON.parse((await page.locator('body').textContent()) ?? '{}') as {
      headers: Record<string, string>;
    };
    const identity = echoed.headers['x-steward-identity'] ?? '';
    const claims = JSON.parse(
      Buffer.from(identity.split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as Record<string, unknown>;
    expect(claims).toMatchObject({
      sub: userId,
      email: 'ada@acme.example',
      amr: ['oidc'],
      groups: ['finance'],
    });
    // The app got the identity JWT and neither Steward's nor the IdP's cookies.
    expect(echoed.headers.cookie ?? '').not.toMatch(/steward-session|steward-oidc|_session|_interaction/);
    const cookies = await context.cookies(`https://${s.host}:${s.port}`);
    expect(cookies.map((c) => c.name)).toContain('__Host-steward-session');
    expect(cookies.map((c) => c.name)).not.toContain('__Host-steward-oidc');
    // The login log (the real one) has the sign-in, with the address HAProxy saw.
    const logged = await s.t.query<{
      method: string;
      outcome: string;
      user_id: string;
      address: string;
      detail: string;
    }>(
      "select method, outcome, user_id, address, detail from login_events where method = 'oidc'",
      [],
      s.t.controlDatabase,
    );
    expect(logged).toMatchObject([
      { outcome: 'success', user_id: userId, address: '127.0.0.1', detail: 'connection test-idp' },
    ]);
    await context.close();
  });
});
