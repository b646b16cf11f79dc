import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { buildConsole, consoleStale } from '../../src/console/build.ts';
import { totpCode } from '../../src/identity/credentials.ts';
import { saveScreenshot, serverSpki } from './browser.ts';
import { startTestSteward, type TestSteward, type TestStewardOptions } from './steward.ts';

/** Where the tests put their screenshots (gitignored; CI keeps them as artifacts, the README shows some). */
export const artifactsDir = resolve(import.meta.dirname, '../../test-artifacts/console');
const axeSource = resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js');

export interface ConsoleAccount {
  readonly username: string;
  readonly password: string;
  readonly role: 'owner' | 'operator' | 'auditor';
  readonly totpSecret: string;
  /** A session token of the account (from before MFA): a context signs in with it as its cookie. */
  readonly token: string;
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[]; readonly html: string }[];
}

export interface TestConsole {
  readonly t: TestSteward;
  /** `https://console.localhost:<port>`: the console through Steward's data plane (HAProxy). */
  readonly origin: string;
  readonly browser: Browser;
  /** A fresh browser context (its own cookies) and page; a phone's viewport if asked. */
  newPage(options?: { readonly phone?: boolean; readonly locale?: string }): Promise<Page>;
  /** An operator with TOTP enrolled. */
  operator(username: string, role?: ConsoleAccount['role']): Promise<ConsoleAccount>;
  /** A TOTP code of the account no sign-in used yet (waits for the next 30 s step when it must). */
  freshTotp(account: ConsoleAccount): Promise<string>;
  /** Signs in through the sign-in form (username, password, TOTP) and waits for the console. */
  signIn(page: Page, account: ConsoleAccount): Promise<void>;
  /** Signs the page's context in with the account's session cookie (no TOTP step used). */
  useSession(page: Page, account: ConsoleAccount): Promise<void>;
  /** axe-core's violations on the page as it is (WCAG 2.1 A/AA and best practices). */
  axe(page: Page): Promise<AxeViolation[]>;
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * One Steward with its data plane (so the console is served at
 * https://console.localhost:<port>/ as in production, with the __Host-
 * cookie's Secure origin) and one Chromium, trusting only the edge's key.
 */
export async function startTestConsole(options: TestStewardOptions = {}): Promise<TestConsole> {
  await ensureConsoleBuilt();
  const t = await startTestSteward({ gateway: true, ...options });
  let browser: Browser | undefined;
  try {
    const port = t.steward.gatewayAddress?.port ?? 0;
    const host = `console.${t.config.gateway.baseDomain}`;
    const origin = `https://${host}:${port}`;
    const ca = await readFile(join(t.dataDir, 'ca.pem'), 'utf8');
    const spki = await serverSpki(port, host, ca);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', `--ignore-certificate-errors-spki-list=${spki}`],
    });
    const launched = browser;
    const contexts: BrowserContext[] = [];
    const lastStep = new Map<string, number>();

    const stepNow = () => Math.floor(Date.now() / 30_000);
    const freshTotp: TestConsole['freshTotp'] = async (account) => {
      const used = lastStep.get(account.username) ?? stepNow() - 2;
      let step = Math.max(used + 1, stepNow() - 1);
      // Steward accepts a code one step either side of now, each step once.
      while (step > stepNow() + 1) {
        await new Promise((r) => setTimeout(r, 500));
        step = Math.max(used + 1, stepNow() - 1);
      }
      lastStep.set(account.username, step);
      return totpCode(account.totpSecret, new Date(step * 30_000 + 1000));
    };

    const operator: TestConsole['operator'] = async (username, role = 'operator') => {
      const password = `${username}-console-password-1`;
      const added = await t.request('POST', '/api/v1/operators', { username, role, password });
      if (added.status !== 201) throw new Error(`adding ${username}: ${added.text}`);
      const login = await t.request('POST', '/api/v1/auth/login', { username, password }, null);
      if (login.status !== 200) throw new Error(`login of ${username}: ${login.text}`);
      const token = login.body.token as string;
      const enrol = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
      if (enrol.status !== 200) throw new Error(`MFA enrolment of ${username}: ${enrol.text}`);
      const account: ConsoleAccount = { username, password, role, totpSecret: enrol.body.secret, token };
      const code = await freshTotp(account);
      const verified = await t.request('POST', '/api/v1/auth/mfa/verify', { code }, token);
      if (verified.status !== 200) throw new Error(`MFA verification of ${username}: ${verified.text}`);
      return account;
    };

    const newPage: TestConsole['newPage'] = async (pageOptions = {}) => {
      const context = await launched.newContext({
        locale: pageOptions.locale ?? 'en-GB',
        viewport: pageOptions.phone ? { width: 390, height: 844 } : { width: 1280, height: 800 },
        ...(pageOptions.phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
      });
      contexts.push(context);
      return context.newPage();
    };

    return {
      t,
      origin,
      browser: launched,
      newPage,
      operator,
      freshTotp,
      async signIn(page, account) {
        if (!page.url().startsWith(origin)) await page.goto(`${origin}/`);
        await page.getByLabel('Username').fill(account.username);
        await page.getByLabel('Password').fill(account.password);
        await page.getByLabel('Authentication code').fill(await freshTotp(account));
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('navigation', { name: 'Main' }).waitFor();
      },
      async useSession(page, account) {
        await page.context().addCookies([
          {
            name: '__Host-steward',
            value: account.token,
            url: `${origin}/`,
            secure: true,
            httpOnly: true,
            sameSite: 'Strict',
          },
        ]);
      },
      async axe(page) {
        // Evaluated, not a script tag: the console's CSP allows no inline script, rightly.
        await page.evaluate(await readFile(axeSource, 'utf8'));
        return page.evaluate(async () => {
          const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
          const result = await axe.run();
          return result.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 200) })),
          }));
        });
      },
      async screenshot(page, name) {
        await mkdir(artifactsDir, { recursive: true });
        const path = join(artifactsDir, `${name}.png`);
        await saveScreenshot(page, { path, fullPage: true });
        return path;
      },
      async close() {
        for (const context of contexts) await context.close().catch(() => undefined);
        await launched.close();
        await t.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await t.close();
    throw error;
  }
}

/**
 * Builds web/ into web/dist when it is missing or older than its sources,
 * once: test files in other workers wait on the same lock, then find it built.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  if (!(await consoleStale())) return;
  const lock = join(tmpdir(), 'steward-console-build.lock');
  for (;;) {
    const handle = await open(lock, 'wx').catch(() => undefined);
    if (handle) {
      try {
        if (await consoleStale()) await buildConsole();
      } finally {
        await handle.close();
        await rm(lock, { force: true });
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
    if (!(await consoleStale())) return;
    // A build takes seconds: a lock this old is a killed run's.
    const held = await stat(lock).catch(() => undefined);
    if (held && Date.now() - held.mtimeMs > 120_000) await rm(lock, { force: true });
  }
}

/** Fails, naming the page and listing axe-core's violations, when the page as it is has any. */
export async function expectAccessible(c: TestConsole, page: Page, name: string): Promise<void> {
  const violations = await c.axe(page);
  expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

/** Opens a console page and waits for its heading (the lazy chunk loaded, the first answer in). */
export async function openPage(
  c: TestConsole,
  page: Page,
  path: string,
  heading: string | RegExp,
): Promise<void> {
  await page.goto(`${c.origin}${path}`);
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
}
