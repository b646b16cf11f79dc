import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignInPlace, SignInResult } from '../../../src/identity/contracts.ts';
import { hashPassword, totpCode, verifyPassword } from '../../../src/identity/credentials.ts';
import { apiCli } from '../../harness/api-cli.ts';
import { startTestSteward, type TestSteward } from '../../harness/steward.ts';
import { startMailServer, type MailServer } from '../../notifications/receivers.ts';
import { ManualClock } from '../helpers.ts';

/**
 * Local users against the real control database, a real SMTP server and
 * real HTTP: an invitation mailed through the outbox, its link followed to
 * set a password and enrol TOTP, then sign-ins (replayed codes and
 * challenges refused), lockout with backoff, resets, and the login log.
 */
let st: TestSteward;
let mail: MailServer;
let pages: Server;
let pagesPort: number;
let tenantId: string;
const clock = new ManualClock();
const host = 'acme.localhost';
const place = (address = '192.0.2.10'): SignInPlace => ({
  tenantId,
  tenant: 'acme',
  stage: 'prod',
  host,
  address,
});

beforeAll(async () => {
  mail = await startMailServer({ user: 'id-mailer', password: 'id-mail-secret' });
  st = await startTestSteward({
    workers: false,
    clock,
    config: {
      login: { maxFailuresPerAccount: 2, lockoutSeconds: 60 },
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'accounts@example.com' },
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        timeoutSeconds: 2,
        pollSeconds: 0.05,
      },
    },
  });
  await st.services.notifications.keepSmtpCredentials('id-mailer', 'id-mail-secret');
  const created = await st.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
  expect(created.status, created.text).toBe(201);
  // Local users sign in only where the tenant's identity settings let them (sessions/, id-edge).
  const on = await st.request('PATCH', '/api/v1/tenants/acme/identity', { localUsers: true });
  expect(on.status, on.text).toBe(200);
  tenantId = (await st.services.localUsers.users.tenant('acme')).id;
  // The route the data plane would have once the stage runs: the pages find the tenant by its host.
  await st.query(
    'update stages set published_port = 20000 + (random() * 20000)::int where tenant_id = $1',
    [tenantId],
    st.controlDatabase,
  );
  const local = await st.request('PATCH', '/api/v1/tenants/acme/identity', { localUsers: true });
  expect(local.status, local.text).toBe(200);
  await st.services.sessions.keys.ensure();
  // The sign-in router as StewardPages calls it behind HAProxy (the host names the tenant and stage).
  pages = createServer((req, res) => st.services.authPages.handler(req, res));
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagesPort = (pages.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => (pages ? pages.close(() => resolve()) : resolve()));
  await st?.close();
  await mail?.close();
});

/** Delivers the outbox and returns the link in the newest mail to `to`. */
async function mailedLink(to: string, page: 'invite' | 'reset'): Promise<string> {
  await st.services.notifications.pass();
  const last = mail.mails.filter((m) => m.to.includes(to)).at(-1);
  expect(last, `a mail to ${to}`).toBeDefined();
  const text = (last?.raw ?? '')
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  const url = new RegExp(
    `https://acme\\.localhost:\\d+/\\.steward/auth/${page}\\?token=[A-Za-z0-9_-]{43}`,
  ).exec(text)?.[0];
  expect(url, text).toBeDefined();
  return url ?? '';
}

const jar = new Map<string, string>();

/** Follows a link (or posts a form) to the sign-in pages, as a browser on `host` would (cookies kept). */
async function browse(
  url: string,
  form?: Record<string, string>,
): Promise<{ status: number; html: string; location: string | null }> {
  const u = new URL(url, `https://${host}`);
  const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const body = form
    ? new URLSearchParams({ csrf: jar.get('__Host-steward-csrf') ?? '', ...form }).toString()
    : undefined;
  // node:http, not fetch: fetch does not let a caller set Host, and the host names the tenant.
  const res = await new Promise<{ status: number; headers: IncomingMessage['headers']; text: string }>(
    (resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: pagesPort,
          path: `${u.pathname}${u.search}`,
          method: form ? 'POST' : 'GET',
          headers: {
            host,
            ...(cookie ? { cookie } : {}),
            ...(form
              ? { 'content-type': 'application/x-www-form-urlencoded', origin: `https://${host}` }
              : {}),
          },
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () =>
            resolve({
              status: r.statusCode ?? 0,
              headers: r.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
  for (const c of res.headers['set-cookie'] ?? []) {
    const [pair] = c.split(';');
    const at = pair?.indexOf('=') ?? -1;
    if (pair && at > 0) jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return { status: res.status, html: res.text, location: res.headers.location ?? null };
}

const field = (html: string, name: string): string =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replaceAll('&#38;', '&') ?? '';
const secretOf = (html: string): string =>
  (/data-totp-secret>([A-Z2-7 ]+)</.exec(html)?.[1] ?? '').replaceAll(' ', '');
const code = (secret: string): Promise<string> => totpCode(secret, clock.now());
const signIn = st_signIn;
function st_signIn(userName: string, password: string, address?: string): Promise<SignInResult> {
  return st.services.localUsers.signIn.password(place(address), userName, password);
}

async function failures(user?: string): Promise<{ reason: string; method: string; detail: string | null }[]> {
  const q = new URLSearchParams({ outcome: 'failure', ...(user ? { user } : {}) });
  const res = await st.request('GET', `/api/v1/tenants/acme/login-log?${q.toString()}`);
  expect(res.status, res.text).toBe(200);
  return res.body.events as { reason: string; method: string; detail: string | null }[];
}

describe('local users', () => {
  const password = 'correct horse battery staple';
  let secret = '';
  let recovery: string[] = [];

  it('adds a user, mails the invitation, and its link sets a password and enrols TOTP', async () => {
    const added = await st.request('POST', '/api/v1/tenants/acme/users', {
      userName: 'Marta',
      email: 'marta@acme.example',
      name: 'Marta K',
      requireMfa: true,
    });
    expect(added.status, added.text).toBe(201);
    expect(added.body.invitation.sentTo).toBe('marta@acme.example');
    const url = await mailedLink('marta@acme.example', 'invite');
    const page = await browse(url);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<strong>Marta</strong>');
    secret = secretOf(page.html);
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    const token = new URL(url).searchParams.get('token') ?? '';
    const form = { token, password, confirm: password, ticket: field(page.html, 'ticket') };
    // A weak password is refused and the form comes back; the link still works.
    const weak = await browse(url, {
      ...form,
      password: 'marta-12345678',
      confirm: 'marta-12345678',
      code: await code(secret),
    });
    expect(weak.status).toBe(400);
    expect(weak.html).toContain('may not contain the user name');
    const done = await browse(url, { ...form, code: await code(secret) });
    expect(done.status, done.html).toBe(200);
    recovery = [...done.html.matchAll(/<code>([0-9a-f]{5}(?:-[0-9a-f]{5}){3})<\/code>/g)].map(
      (m) => m[1] ?? '',
    );
    expect(recovery).toHaveLength(10);
    // Used once: the same link again is refused.
    const again = await browse(url, { ...form, code: await code(secret) });
    expect(again.status).toBe(410);
    expect(again.html).toContain('was used already');
  });

  it('signs in with password then TOTP; a replayed code or challenge is refused', async () => {
    // The code that confirmed the enrolment is spent: the same 30 s step is refused.
    const first = await signIn('marta', password);
    expect(first.kind).toBe('mfa-required');
    const challenge = first.kind === 'mfa-required' ? first.challenge : '';
    const replayed = await st.services.localUsers.signIn.totp(place(), challenge, await code(secret));
    expect(replayed).toMatchObject({ kind: 'refused', reason: 'mfa_failed' });
    // The challenge is single use, even after a wrong code.
    clock.advance(30);
    const reused = await st.services.localUsers.signIn.totp(place(), challenge, await code(secret));
    expect(reused).toMatchObject({ kind: 'refused', reason: 'bad_request' });
    const second = await signIn('MARTA', password);
    const ok = await st.services.localUsers.signIn.totp(
      place(),
      second.kind === 'mfa-required' ? second.challenge : '',
      await code(secret),
    );
    expect(ok).toMatchObject({ kind: 'signed-in', method: 'totp', amr: ['pwd', 'otp'] });
    // A challenge for another host is worthless.
    const third = await signIn('marta', password);
    const elsewhere = await st.services.localUsers.signIn.totp(
      { ...place(), host: 'dev.acme.localhost' },
      third.kind === 'mfa-required' ? third.challenge : '',
      await code(secret),
    );
    expect(elsewhere).toMatchObject({ kind: 'refused', reason: 'bad_request' });
    // A recovery code works once.
    const fourth = await signIn('marta', password);
    const byRecovery = await st.services.localUsers.signIn.totp(
      place(),
      fourth.kind === 'mfa-required' ? fourth.challenge : '',
      recovery[0] ?? '',
    );
    expect(byRecovery).toMatchObject({ kind: 'signed-in' });
    const fifth = await signIn('marta', password);
    const recoveryAgain = await st.services.localUsers.signIn.totp(
      place(),
      fifth.kind === 'mfa-required' ? fifth.challenge : '',
      recovery[0] ?? '',
    );
    expect(recoveryAgain).toMatchObject({ kind: 'refused', reason: 'mfa_failed' });
  });

  it('signs in over HTTP through the sign-in pages: password, then the code, then a session', async () => {
    clock.advance(30);
    const login = await browse('/.steward/auth/login', { username: 'marta', password, rd: '/' });
    expect(login.status, login.html).toBe(200);
    const challenge = field(login.html, 'challenge');
    expect(challenge).not.toBe('');
    const done = await browse('/.steward/auth/mfa', { challenge, code: await code(secret), rd: '/' });
    expect(done.status, done.html).toBe(303);
    expect(jar.get('__Host-steward-session')).toMatch(/^ey/);
    const sessions = await st.query<{ amr: string[] }>(
      'select amr from end_user_sessions where tenant_id = $1 and revoked_at is null',
      [tenantId],
      st.controlDatabase,
    );
    expect(sessions.map((r) => r.amr)).toEqual([['pwd', 'otp']]);
    // Signed in: the enrolment page knows the user, who has TOTP already.
    const setup = await browse('/.steward/auth/mfa-setup');
    expect(setup.status).toBe(409);
    expect(setup.html).toContain('set up already');
  });

  it('answers an unknown user, a wrong password and a lock alike; locks back off; the log has the reasons', async () => {
    const address = '198.51.100.7';
    const unknown = await signIn('nobody', password, address);
    const wrong = await signIn('marta', 'not the password at all', address);
    const locking = await signIn('marta', 'still not the password', address);
    const locked = await signIn('marta', password, address);
    for (const r of [unknown, wrong, locking, locked]) {
      expect(r).toMatchObject({ kind: 'refused', message: 'Wrong user name or password.' });
    }
    // Locked for this address only: from elsewhere the owner still signs in.
    expect((await signIn('marta', password, '203.0.113.9')).kind).toBe('mfa-required');
    clock.advance(61);
    expect((await signIn('marta', password, address)).kind).toBe('mfa-required');
    // Without a full sign-in between, the next lock lasts twice as long.
    await signIn('marta', 'wrong once more', address);
    await signIn('marta', 'wrong twice more', address);
    clock.advance(61);
    expect(await signIn('marta', password, address)).toMatchObject({ kind: 'refused', reason: 'locked' });
    clock.advance(60);
    expect((await signIn('marta', password, address)).kind).toBe('mfa-required');
    const reasons = (await failures()).map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(['unknown_user', 'bad_password', 'locked', 'mfa_failed', 'bad_request']),
    );
    const lockLines = (await failures('marta')).filter((e) => /^locked for \d+ s$/.test(e.detail ?? ''));
    expect(lockLines.map((e) => e.detail)).toEqual(['locked for 120 s', 'locked for 60 s']);
  });

  it('spends the same work on an unknown user, a wrong password and a locked account', async () => {
    const lockedAt = '198.51.100.200';
    await signIn('marta', 'guess number one', lockedAt);
    await signIn('marta', 'guess number two', lockedAt);
    const kinds = {
      unknown: (round: number) => signIn('no-such-user', 'a password guess', `203.0.113.${100 + round}`),
      wrong: (round: number) => signIn('marta', 'a password guess', `203.0.113.${110 + round}`),
      locked: () => signIn('marta', password, lockedAt),
    };
    const cpu: Record<string, number> = { unknown: 0, wrong: 0, locked: 0 };
    for (let round = 0; round < 4; round++) {
      for (const [kind, attempt] of Object.entries(kinds)) {
        const started = process.cpuUsage();
        expect(await attempt(round)).toMatchObject({
          kind: 'refused',
          message: 'Wrong user name or password.',
        });
        const spent = process.cpuUsage(started);
        cpu[kind] = (cpu[kind] ?? 0) + (spent.user + spent.system) / 1000;
      }
    }
    // Each runs one argon2 verification (a decoy hash when there is nothing to check): a shortcut would
    // take a fraction of one. CPU time of this process, whose thread pool runs argon2.
    const hash = await hashPassword('a password to verify');
    const started = process.cpuUsage();
    for (let i = 0; i < 4; i++) await verifyPassword(hash, 'not this one');
    const spent = process.cpuUsage(started);
    const alone = (spent.user + spent.system) / 1000;
    // Half: a shortcut costs a small fraction, and 0.6 failed by 0.05 ms once with two test files running.
    for (const kind of Object.keys(kinds)) {
      expect(cpu[kind], JSON.stringify({ cpu, alone })).toBeGreaterThan(alone * 0.5);
    }
  });

  it('still locks after a quiet spell: a counter whose window ran out starts a new one', async () => {
    const address = '198.51.100.77';
    await signIn('marta', 'one wrong guess', address);
    clock.advance(61);
    // The old window is over: these two are the new window's first and second failures.
    await signIn('marta', 'another wrong guess', address);
    await signIn('marta', 'a third wrong guess', address);
    expect(await signIn('marta', password, address)).toMatchObject({ kind: 'refused', reason: 'locked' });
    clock.advance(61);
  });

  it('resets a password by a mailed link; a newer link supersedes the older; sessions end', async () => {
    const older = await st.request('POST', '/api/v1/tenants/acme/users/marta/reset-password');
    expect(older.status, older.text).toBe(200);
    const olderUrl = await mailedLink('marta@acme.example', 'reset');
    await st.request('POST', '/api/v1/tenants/acme/users/marta/reset-password');
    const url = await mailedLink('marta@acme.example', 'reset');
    expect((await browse(olderUrl)).html).toContain('A newer link was sent');
    const page = await browse(url);
    expect(page.status).toBe(200);
    // MFA is enrolled: the reset sets the password only; sign-in still asks for the code.
    expect(page.html).not.toContain('data-totp-secret');
    const token = new URL(url).searchParams.get('token') ?? '';
    const renewed = 'a brand new passphrase here';
    expect((await browse(url, { token, password: renewed, confirm: renewed })).status).toBe(200);
    // The session opened over HTTP before ended with the reset.
    const open = await st.query<{ n: string }>(
      'select count(*) as n from end_user_sessions where tenant_id = $1 and revoked_at is null',
      [tenantId],
      st.controlDatabase,
    );
    expect(open[0]?.n).toBe('0');
    expect((await signIn('marta', password, '192.0.2.99')).kind).toBe('refused');
    expect((await signIn('marta', renewed, '192.0.2.99')).kind).toBe('mfa-required');
  });

  it('resets MFA, disables and deletes, with audit and login-log events', async () => {
    const reset = await st.request('POST', '/api/v1/tenants/acme/users/marta/reset-mfa');
    expect(reset.status, reset.text).toBe(200);
    expect(reset.body.mfa).toBe(false);
    const log = await st.request('GET', '/api/v1/tenants/acme/login-log?user=MARTA&limit=500');
    expect((log.body.events as { method: string }[]).map((e) => e.method)).toEqual(
      expect.arrayContaining([
        'mfa_reset',
        'mfa_enrolled',
        'invitation',
        'password_reset',
        'totp',
        'password',
      ]),
    );
    const audit = await st.query<{ action: string }>(
      "select action from audit_events where target = 'tenant/acme/user/Marta' order by seq",
      [],
      st.controlDatabase,
    );
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'tenant-user.add',
        'tenant-user.invite',
        'tenant-user.mfa.enroll',
        'tenant-user.mfa.reset',
      ]),
    );
    expect((await st.request('POST', '/api/v1/tenants/acme/users/marta/disable')).body.active).toBe(false);
    expect(await signIn('marta', 'a brand new passphrase here', '192.0.2.99')).toMatchObject({
      kind: 'refused',
      reason: 'inactive',
      message: 'Wrong user name or password.',
    });
  });

  it('lets a signed-in user without MFA enrol TOTP at /.steward/auth/mfa-setup', async () => {
    const added = await st.request('POST', '/api/v1/tenants/acme/users', {
      userName: 'li',
      email: 'li@acme.example',
    });
    expect(added.status, added.text).toBe(201);
    const url = await mailedLink('li@acme.example', 'invite');
    const invite = await browse(url);
    // MFA is not required for li: the invitation sets a password only.
    expect(invite.html).not.toContain('data-totp-secret');
    const token = new URL(url).searchParams.get('token') ?? '';
    const pass = 'li has a long passphrase';
    expect((await browse(url, { token, password: pass, confirm: pass })).status).toBe(200);
    jar.delete('__Host-steward-session');
    expect((await browse('/.steward/auth/mfa-setup')).status).toBe(401);
    const login = await browse('/.steward/auth/login', { username: 'li', password: pass, rd: '/' });
    expect(login.status, login.html).toBe(303);
    const setup = await browse('/.steward/auth/mfa-setup');
    expect(setup.status, setup.html).toBe(200);
    const liSecret = secretOf(setup.html);
    const done = await browse('/.steward/auth/mfa-setup', {
      ticket: field(setup.html, 'ticket'),
      code: await code(liSecret),
    });
    expect(done.status, done.html).toBe(200);
    expect(done.html).toContain('data-recovery-codes');
    expect((await signIn('li', pass, '192.0.2.50')).kind).toBe('mfa-required');
  });

  it('with MFA required on the stage, sends a user without a second factor to enrol TOTP before any session', async () => {
    const added = await st.request('POST', '/api/v1/tenants/acme/users', {
      userName: 'ola',
      email: 'ola@acme.example',
    });
    expect(added.status, added.text).toBe(201);
    const url = await mailedLink('ola@acme.example', 'invite');
    const token = new URL(url).searchParams.get('token') ?? '';
    const pass = 'ola keeps a long passphrase';
    expect((await browse(url, { token, password: pass, confirm: pass })).status).toBe(200);
    const required = await st.request('PATCH', '/api/v1/tenants/acme/identity', {
      stage: 'prod',
      mfa: 'required',
    });
    expect(required.status, required.text).toBe(200);
    expect(required.body.stages[0].effective.mfa).toBe('required');
    const bad = await st.request('PATCH', '/api/v1/tenants/acme/identity', { mfa: 'sometimes' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('mfa');
    jar.delete('__Host-steward-session');
    // The right password: the TOTP set-up, no session; a wrong first code: still none.
    const login = { username: 'ola', password: pass, rd: '/books' };
    const enrol = await browse('/.steward/auth/login', login);
    expect(enrol.status, enrol.html).toBe(200);
    expect(jar.has('__Host-steward-session')).toBe(false);
    const wrong = await browse('/.steward/auth/mfa', {
      challenge: field(enrol.html, 'challenge'),
      code: '000000',
      rd: '/books',
    });
    expect(wrong.status).toBe(401);
    expect(jar.has('__Host-steward-session')).toBe(false);
    const again = await browse('/.steward/auth/login', login);
    const olaSecret = secretOf(again.html);
    expect(olaSecret).toMatch(/^[A-Z2-7]{16,}$/);
    const done = await browse('/.steward/auth/mfa', {
      challenge: field(again.html, 'challenge'),
      code: await code(olaSecret),
      rd: '/books',
    });
    expect(done.status, done.html).toBe(200);
    expect(done.html).toContain('data-recovery-codes');
    expect(done.html).toContain('href="/books"');
    expect(jar.has('__Host-steward-session')).toBe(true);
    // Enrolled: the next sign-in asks for a code, and the log shows the enrolment at sign-in.
    expect((await signIn('ola', pass, '192.0.2.60')).kind).toBe('mfa-required');
    const log = await st.request('GET', '/api/v1/tenants/acme/login-log?user=ola');
    expect(log.text).toContain('TOTP enrolled at sign-in (MFA required)');
    // An invitation on a stage that requires MFA enrols TOTP with the password.
    await st.request('POST', '/api/v1/tenants/acme/users', { userName: 'pia', email: 'pia@acme.example' });
    expect((await browse(await mailedLink('pia@acme.example', 'invite'))).html).toContain('data-totp-secret');
    const cleared = await st.request('PATCH', '/api/v1/tenants/acme/identity', { stage: 'prod', mfa: null });
    expect(cleared.body.stages[0].effective.mfa).toBe('optional');
    for (const user of ['ola', 'pia']) {
      expect((await st.request('DELETE', `/api/v1/tenants/acme/users/${user}`)).status).toBe(200);
    }
  });

  it('refuses bad input naming the field, and a duplicate name in any case', async () => {
    const bad = await st.request('POST', '/api/v1/tenants/acme/users', {
      userName: 'li',
      email: 'not-an-address',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('"not-an-address" is not accepted');
    const dup = await st.request('POST', '/api/v1/tenants/acme/users', {
      userName: 'mARTA',
      email: 'm2@acme.example',
    });
    expect(dup.status).toBe(409);
    expect(dup.body.field).toBe('userName');
    const since = await st.request('GET', '/api/v1/tenants/acme/login-log?since=yesterday');
    expect(since.status).toBe(400);
    expect(since.body.field).toBe('since');
  });

  it('lists users and the login log through the CLI, and logs no secret', async () => {
    const cli = await apiCli(st);
    const list = await cli('user', 'list', 'acme', '-o', 'json');
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ userName: 'Marta', source: 'local', active: false, mfa: false, groups: [] }),
      expect.objectContaining({
        userName: 'li',
        active: true,
        mfa: true,
        passwordSet: true,
        lastSignInAt: expect.any(String),
      }),
    ]);
    const log = await cli('login-log', 'acme', '--since', '7d', '--failures');
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toContain('bad_password');
    const logs = st.logs();
    for (const secretText of ['correct horse battery staple', 'a brand new passphrase here', secret]) {
      expect(logs).not.toContain(secretText);
    }
    expect(logs).not.toMatch(/token=[A-Za-z0-9_-]{43}/);
  });
});
