import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  type ConsoleAccount,
  expectAccessible,
  startTestConsole,
  type TestConsole,
} from '../harness/console.ts';
import { ledgerDir, packRelease } from '../harness/ledger.ts';

/**
 * The operator's journeys through the console in Debian's Chromium, served
 * by Steward's data plane: sign in with MFA by keyboard alone, create a
 * tenant and watch it become ready without a reload, deploy and roll back;
 * axe-core on every page of the tenants area, English and German, a phone.
 */
let c: TestConsole;
let ops: ConsoleAccount;
let page: Page;
const slug = `web${Date.now().toString(36).slice(-5)}`;

const noViolations = (name: string): Promise<void> => expectAccessible(c, page, name);

async function upload(version: string): Promise<void> {
  const response = await c.t.api.inject({
    method: 'POST',
    url: `/api/v1/releases?version=${version}`,
    headers: { authorization: `Bearer ${c.t.token}`, 'content-type': 'application/gzip' },
    payload: packRelease(ledgerDir),
  });
  expect(response.statusCode, response.body).toBe(201);
}

beforeAll(async () => {
  c = await startTestConsole({ runtimeTickMs: 500 });
  ops = await c.operator('olga', 'operator');
  page = await c.newPage();
}, 180_000);

afterAll(async () => {
  await c?.close();
});

describe('the console: tenants and stages', () => {
  it('signs an operator in with password and TOTP using the keyboard alone', async () => {
    const scripts: Promise<number>[] = [];
    page.on('response', (response) => {
      if (response.request().resourceType() === 'script') {
        scripts.push(
          response
            .request()
            .sizes()
            .then((sizes) => sizes.responseBodySize),
        );
      }
    });
    await page.goto(`${c.origin}/tenants?phase=ready`);
    await page.getByRole('heading', { name: 'Sign in to Steward' }).waitFor();
    await noViolations('sign-in');
    await c.screenshot(page, 'sign-in');
    // The username field has focus; Tab moves through the form, Enter submits.
    await page.keyboard.type(ops.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ops.password);
    await page.keyboard.press('Tab');
    // A wrong code first: the API's message lands under the code's field.
    await page.keyboard.type('000000');
    await page.keyboard.press('Enter');
    const totp = page.getByLabel('Authentication code');
    await expect.poll(() => totp.getAttribute('aria-invalid')).toBe('true');
    await totp.fill('');
    await totp.focus();
    await page.keyboard.type(await c.freshTotp(ops));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    // The deep link survived the sign-in: its filter is still in the URL and the form.
    expect(new URL(page.url()).searchParams.get('phase')).toBe('ready');
    await noViolations('tenants list');
    // The first load, shell and the list's own chunk: compressed JavaScript within 200 KB.
    page.removeAllListeners('response');
    const bytes = (await Promise.all(scripts)).reduce((sum, n) => sum + n, 0);
    console.log(`console first load: ${scripts.length} scripts, ${bytes} bytes of JavaScript over the wire`);
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThanOrEqual(200 * 1024);
  });

  it('shows an API error under the field it names and creates nothing', async () => {
    await page.goto(`${c.origin}/tenants/new`);
    await page.getByLabel('Slug').fill('Not A Slug');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    const slugField = page.getByLabel('Slug');
    await expect.poll(() => slugField.getAttribute('aria-invalid')).toBe('true');
    const message = await page.locator('.field-invalid .field-error').innerText();
    expect(message).toMatch(/slug/i);
    await noViolations('create tenant with an error');
    const list = await c.t.request('GET', '/api/v1/tenants');
    expect(JSON.stringify(list.body)).not.toContain('Not A Slug');
  });

  it('creates a tenant and watches it become ready without a reload', async () => {
    await page.getByLabel('Slug').fill(slug);
    await page.getByLabel('Name').fill('Web Journey GmbH');
    await page.getByLabel('Stages').fill('dev, prod');
    // Marks this document: a reload would lose it.
    await page.evaluate(() => ((window as unknown as { journey: number }).journey = 1));
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.waitForURL(`${c.origin}/tenants/${slug}`);
    const stages = page.getByRole('table', { name: 'Stages' });
    await stages.getByRole('row').nth(2).waitFor();
    await c.screenshot(page, 'tenant-provisioning');
    await expect
      .poll(() => stages.locator('tbody tr td:nth-child(2)').allInnerTexts(), { timeout: 90_000 })
      .toEqual(['ready', 'ready']);
    expect(await page.evaluate(() => (window as unknown as { journey?: number }).journey)).toBe(1);
    await noViolations('tenant detail');
    await c.screenshot(page, 'tenant-ready');
  });

  it('deploys a release with its progress, then rolls it back', async () => {
    await upload('1.0.0');
    await upload('1.1.0');
    const row = page.locator('tr[data-stage="dev"]');
    const deploy = async (version: string) => {
      await row.getByRole('button', { name: 'Deploy' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('Release').selectOption({ label: `ledger ${version}` });
      await dialog.getByRole('button', { name: 'Deploy' }).click();
      await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
      await expect.poll(() => row.locator('td').nth(3).innerText(), { timeout: 90_000 }).toBe(version);
    };
    // The dialog keeps focus inside; Escape closes it and gives focus back to its button.
    await row.getByRole('button', { name: 'Deploy' }).click();
    await page.getByRole('dialog').getByLabel('Release').waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Deploy');
    await deploy('1.0.0');
    await deploy('1.1.0');
    await c.screenshot(page, 'tenant-deployed');
    await row.getByRole('button', { name: 'Roll back' }).click();
    const confirm = page.getByRole('dialog');
    await noViolations('roll back dialog');
    await confirm.getByRole('button', { name: 'Roll back' }).click();
    await expect.poll(() => row.locator('td').nth(3).innerText(), { timeout: 90_000 }).toBe('1.0.0');
    const deployments = await c.t.request('GET', `/api/v1/tenants/${slug}/deployments`);
    expect(JSON.stringify(deployments.body)).toMatch(/rolled-back|superseded/);
  });

  it('shows a stage: processes, logs and its tabs in the URL', async () => {
    await page.getByRole('link', { name: 'dev', exact: true }).click();
    await page.waitForURL(`${c.origin}/tenants/${slug}/stages/dev`);
    await page.getByRole('heading', { name: `${slug} / dev` }).waitFor();
    await noViolations('stage overview');
    await page.getByRole('tab', { name: 'Processes' }).click();
    expect(new URL(page.url()).searchParams.get('tab')).toBe('processes');
    await page.getByRole('table', { name: 'Processes' }).getByRole('row').nth(1).waitFor();
    await noViolations('stage processes');
    await page.getByRole('tab', { name: 'Logs' }).click();
    await expect.poll(() => page.locator('pre.log').innerText(), { timeout: 30_000 }).toMatch(/web\.\d/);
    await noViolations('stage logs');
    await c.screenshot(page, 'stage-logs');
  });

  it('pages the tenant list by cursor, its sort and filters in the URL', async () => {
    for (const suffix of ['a', 'b']) {
      const made = await c.t.request('POST', '/api/v1/tenants', {
        slug: `${slug}${suffix}`,
        stages: ['dev'],
      });
      expect(made.status, made.text).toBe(201);
    }
    await page.goto(`${c.origin}/tenants?q=${slug}&limit=2&sort=slug`);
    const table = page.getByRole('table', { name: 'Tenants' });
    const slugs = () => table.locator('tbody th').allInnerTexts();
    await expect.poll(slugs).toEqual([slug, `${slug}a`]);
    await page.getByRole('link', { name: 'Next page' }).click();
    await expect.poll(slugs).toEqual([`${slug}b`]);
    const paged = new URL(page.url()).searchParams;
    expect([paged.get('q'), paged.get('limit'), paged.get('sort')]).toEqual([slug, '2', 'slug']);
    expect(paged.get('cursor')).toBeTruthy();
    // A pasted link opens the same page.
    const pasted = await c.newPage();
    await c.useSession(pasted, ops);
    await pasted.goto(page.url());
    await expect
      .poll(() => pasted.getByRole('table', { name: 'Tenants' }).locator('tbody th').allInnerTexts())
      .toEqual([`${slug}b`]);
    await pasted.context().close();
    // Sorting again starts from the first page, the other way round.
    await page.getByRole('button', { name: 'Sort by Slug' }).click();
    await expect.poll(slugs).toEqual([`${slug}b`, `${slug}a`]);
    expect(new URL(page.url()).searchParams.get('cursor')).toBeNull();
    expect(new URL(page.url()).searchParams.get('order')).toBe('desc');
    await noViolations('tenants list, paged');
  });

  it('reads in German, and on a phone', async () => {
    await page.getByLabel('Language').selectOption('de');
    await page.goto(`${c.origin}/tenants`);
    await page.getByRole('heading', { name: 'Mandanten', level: 1 }).waitFor();
    await page.getByRole('link', { name: slug, exact: true }).waitFor();
    await noViolations('tenants list (de)');
    await c.screenshot(page, 'tenants-de');
    const phone = await c.newPage({ phone: true });
    await c.useSession(phone, ops);
    await phone.goto(`${c.origin}/tenants/${slug}`);
    await phone.getByRole('table', { name: 'Stages' }).waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await c.screenshot(phone, 'tenant-phone');
  });
});
