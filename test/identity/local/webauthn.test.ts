import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../src/identity/credentials.ts';
import {
  ceremonyChallenge,
  keyNameProblem,
  parseCredentialResponse,
} from '../../../src/identity/local/webauthn.ts';
import { apiCli } from '../../harness/api-cli.ts';
import { saveScreenshot, serverSpki } from '../../harness/browser.ts';
import { startIdentityStage, type IdentityStage } from '../../harness/identity.ts';

/**
 * WebAuthn security keys as a second factor for local users: in Debian's
 * Chromium with a CDP virtual authenticator (CTAP2, internal, user
 * verification) through the real edge: a signed-in user adds a key, signs
 * out, signs in with password and key, and reaches the app (amr pwd+hwk).
 * The posted assertion replayed, replayed against a fresh challenge, and
 * forged are refused; `steward user reset-mfa` removes the key.
 */
describe('WebAuthn helpers', () => {
  it('derives a challenge per ticket, never the ticket itself', () => {
    const a = Buffer.from(ceremonyChallenge('ticket-a'));
    expect(a).toHaveLength(32);
    expect(Buffer.from(ceremonyChallenge('ticket-a'))).toEqual(a);
    expect(Buffer.from(ceremonyChallenge('ticket-b'))).not.toEqual(a);
    expect(a.toString('utf8')).not.toContain('ticket');
  });

  it('names a bad key name and what is accepted', () => {
    expect(keyNameProblem('YubiKey 5C')).toBeUndefined();
    expect(keyNameProblem('')).toContain('use 1 to 64 printable characters');
    expect(keyNameProblem(' padded')).toContain('" padded" is not accepted');
    expect(keyNameProblem('x'.repeat(65))).toContain('is not accepted');
    expect(keyNameProblem('bell\u0007')).toContain('is not accepted');
  });

  it('accepts only credential JSON of the expected kind', () => {
    const assertion = JSON.stringify({
      id: 'abc',
      rawId: 'abc',
      type: 'public-key',
      response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' },
      clientExtensionResults: {},
    });
    expect(parseCredentialResponse(assertion, 'authentication')).toMatchObject({ id: 'abc' });
    expect(parseCredentialResponse(assertion, 'registration')).toBeUndefined();
    for (const bad of ['', 'null', '[]', '{"id":1}', '{', 'x'.repeat(20_000)]) {
      expect(parseCredentialResponse(bad, 'authentication')).toBeUndefined();
    }
  });
});

let s: IdentityStage;
let browser: Browser;
let ada: string;
const password = 'correct horse battery staple';

beforeAll(async () => {
  s = await startIdentityStage({ tenant: 'keys', signIn: 'required', localUsers: true });
  ada = await s.addUser('ada', { name: 'Ada L.' });
  await s.t.query(
    `insert into tenant_user_credentials (user_id, tenant_id, password_hash, password_set_at)
     values ($1, (select id from tenants where slug = 'keys'), $2, now())`,
    [ada, await hashPassword(password)],
    s.t.controlDatabase,
  );
  // Chromium trusts the edge's certificate by its key, after Node verified it against Steward's CA.
  const spki = await serverSpki(s.port, s.host, s.ca);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', `--ignore-certificate-errors-spki-list=${spki}`],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** A password sign-in over plain HTTPS, as a browser at `origin` would post it. */
async function postPassword(origin: string) {
  const { host, hostname } = new URL(origin);
  const login = await s.get('/.steward/auth/login', { host: hostname, headers: { host } });
  const csrf = [login.headers['set-cookie'] ?? []]
    .flat()
    .find((c) => c.startsWith('__Host-steward-csrf='))
    ?.split(';')[0];
  const token = csrf?.split('=')[1] ?? '';
  const posted = await s.get('/.steward/auth/login', {
    host: hostname,
    method: 'POST',
    cookie: csrf ?? '',
    headers: { host, origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: token, rd: '/', username: 'ada', password }).toString(),
  });
  return { posted, csrf: csrf ?? '', token };
}

/** The password step, and the key step's form it shows. */
async function passwordStep(origin: string): Promise<{ csrfCookie: string; form: URLSearchParams }> {
  const { posted, csrf, token } = await postPassword(origin);
  expect(posted.status, posted.body).toBe(200);
  expect(posted.body).toContain('data-webauthn="authenticate"');
  const challenge = /name="challenge" value="([^"]+)"/.exec(posted.body)?.[1] ?? '';
  return {
    csrfCookie: csrf,
    form: new URLSearchParams({ csrf: token, rd: '/', challenge, method: 'webauthn' }),
  };
}

async function postKeyStep(origin: string, csrfCookie: string, form: URLSearchParams) {
  return s.get('/.steward/auth/mfa', {
    method: 'POST',
    cookie: csrfCookie,
    headers: { host: new URL(origin).host, origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
}

describe('a security key in Chromium through the real edge', () => {
  it('adds a key, signs in with password and key, refuses a replayed or forged assertion, and resets', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });
    const origin = `https://${s.host}:${s.port}`;

    // Signed in with the password alone, the user adds a key on the MFA page.
    await page.goto(`${origin}/books`);
    expect(new URL(page.url()).pathname).toBe('/.steward/auth/login');
    await page.fill('#username', 'ada');
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${origin}/books`);
    await page.goto(`${origin}/.steward/auth/mfa-setup`);
    await page.fill('#key-name', 'Laptop key');
    await page.click('text=Add a security key');
    // The key is the user's only second factor: recovery codes come with it.
    const recovery = (await page.locator('[data-recovery-codes] code').first().textContent()) ?? '';
    expect(recovery).toMatch(/^[0-9a-f]{5}(-[0-9a-f]{5}){3}$/);
    const keys = await s.t.query<{ name: string; rp_id: string; counter: string }>(
      'select name, rp_id, counter from tenant_user_webauthn_credentials where user_id = $1',
      [ada],
      s.t.controlDatabase,
    );
    expect(keys).toMatchObject([{ name: 'Laptop key', rp_id: s.host }]);
    await page.goto(`${origin}/.steward/auth/mfa-setup`);
    await expect(page.locator('[data-security-keys]').textContent()).resolves.toBe('Laptop key');

    await page.goto(`${origin}/.steward/auth/logout`);
    await page.click('text=Sign out on every device');
    await page.waitForSelector('[role=status]');

    // Password, then the key: the app is reached signed in with amr pwd+hwk.
    await page.goto(`${origin}/books`);
    await page.fill('#username', 'ada');
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    let keyStep: Request | undefined;
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/.steward/auth/mfa')) keyStep = r;
    });
    await mkdir(join(process.cwd(), 'test-artifacts/identity'), { recursive: true });
    await saveScreenshot(page, { path: join(process.cwd(), 'test-artifacts/identity/security-key.png') });
    await page.click('text=Use your security key');
    await page.waitForURL(`${origin}/books`);
    const seen = JSON.parse((await page.locator('body').textContent()) ?? '{}') as {
      headers: Record<string, string>;
    };
    expect(claimsOf(seen.headers['x-steward-identity'] ?? '')).toMatchObject({
      sub: ada,
      amr: ['pwd', 'hwk'],
    });
    const after = await s.t.query<{ counter: string; last_used_at: Date | null }>(
      'select counter, last_used_at from tenant_user_webauthn_credentials where user_id = $1',
      [ada],
      s.t.controlDatabase,
    );
    expect(Number(after[0]?.counter)).toBeGreaterThan(Number(keys[0]?.counter));
    expect(after[0]?.last_used_at).not.toBeNull();
    await context.close();

    // The assertion the browser posted, sent again: its challenge is used up.
    const posted = new URLSearchParams(keyStep?.postData() ?? '');
    const assertion = posted.get('response') ?? '';
    expect(assertion).toContain('"type":"public-key"');
    const csrfCookie = `__Host-steward-csrf=${posted.get('csrf') ?? ''}`;
    const replayed = await postKeyStep(origin, csrfCookie, posted);
    expect(replayed.status).toBe(401);
    expect(replayed.body).toContain('took too long or was finished already');
    // Against a fresh challenge (a new password step): the old signature is over another challenge.
    const fresh = await passwordStep(origin);
    fresh.form.set('response', assertion);
    const stale = await postKeyStep(origin, fresh.csrfCookie, fresh.form);
    expect(stale.status).toBe(401);
    expect(stale.body).toContain('The security key was not accepted');
    // A forged signature over a fresh challenge's (otherwise right) data.
    const forged = await passwordStep(origin);
    const parsed = JSON.parse(assertion) as { response: { signature: string } };
    const signature = Buffer.from(parsed.response.signature, 'base64url');
    signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 0xff;
    parsed.response.signature = signature.toString('base64url');
    forged.form.set('response', JSON.stringify(parsed));
    expect((await postKeyStep(origin, forged.csrfCookie, forged.form)).status).toBe(401);

    // A recovery code instead of the key, typed into the code field.
    const lost = await passwordStep(origin);
    lost.form.delete('method');
    lost.form.set('code', recovery);
    const recovered = await postKeyStep(origin, lost.csrfCookie, lost.form);
    expect(recovered.status, recovered.body).toBe(303);

    // The prod alias is another host, where this key cannot answer: a second factor is still asked.
    const alias = await postPassword(`https://${s.tenant}.localhost:${s.port}`);
    expect(alias.posted.status, alias.posted.body).toBe(200);
    expect(alias.posted.body).toContain('name="challenge"');
    expect(alias.posted.body).not.toContain('data-webauthn');

    const log = await s.t.query<{ method: string; outcome: string; reason: string | null; detail: string }>(
      `select method, outcome, reason, detail from login_events
        where user_id = $1 and method in ('webauthn', 'mfa_enrolled') order by id`,
      [ada],
      s.t.controlDatabase,
    );
    expect(log.map((e) => [e.method, e.outcome, e.reason])).toEqual([
      ['mfa_enrolled', 'success', null],
      ['webauthn', 'success', null],
      ['webauthn', 'failure', 'bad_request'],
      ['webauthn', 'failure', 'mfa_failed'],
      ['webauthn', 'failure', 'mfa_failed'],
    ]);
    expect(log[3]?.detail).toContain('challenge');

    // The CLI shows the key; reset-mfa removes it, and the password alone signs in again.
    const steward = await apiCli(s.t);
    const listed = await steward('user', 'list', 'keys');
    console.log(`$ steward user list keys\n${listed.stdout}`);
    expect(listed.stdout).toMatch(/ada\s.*1 key/);
    const reset = await steward('user', 'reset-mfa', 'keys', 'ada');
    console.log(`$ steward user reset-mfa keys ada\n${reset.stdout}${reset.stderr}`);
    expect(reset.code, reset.stderr).toBe(0);
    const shown = await steward('user', 'show', 'keys', 'ada', '-o', 'json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ securityKeys: 0, mfa: false });
    const again = await postPassword(origin);
    expect(again.posted.status, again.posted.body).toBe(303);
  }, 60_000);
});
