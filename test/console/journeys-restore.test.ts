import type { Page } from 'playwright-core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { withClient } from '../../src/databases/client.ts';
import { backupNow, betweenTwoRows, turnOnFullPageWrites } from '../backups/support.ts';
import {
  type ConsoleAccount,
  expectAccessible,
  startTestConsole,
  type TestConsole,
} from '../harness/console.ts';

/**
 * An operator restores a stage from the console in Debian's Chromium: a
 * real stage on Steward's own archiving cluster with a real full backup
 * (pgBackRest), a time picked inside the window the page shows, a time
 * outside it refused under its field, the in-place confirmation done by
 * keyboard alone (the stage's name typed), the restore followed live to its
 * end and its evidence; the stage's database then holds what it held at
 * that time.
 */
let c: TestConsole;
let ops: ConsoleAccount;
let page: Page;
let target: Date;
/** The backup the restore starts from: the differential taken after the stage's table. */
let backupLabel: string;
const slug = `rs${Date.now().toString(36).slice(-5)}`;

const admin = (database = 'postgres'): pg.ClientConfig => ({
  connectionString: replaceDatabase(c.t.sharedClusterUrl, database),
});

async function notes(): Promise<string[]> {
  const database = await c.t.database(slug, 'prod');
  return withClient(admin(database), async (client) =>
    (
      await client.query<{ note: string }>(`select note from ledger where note like '%target' order by id`)
    ).rows.map((r) => r.note),
  );
}

const noViolations = (name: string): Promise<void> => expectAccessible(c, page, name);

/** The text of the error a field shows (its aria-describedby), and whether it is marked invalid. */
async function fieldError(label: string): Promise<{ invalid: string | null; text: string }> {
  const field = page.getByLabel(label, { exact: true });
  const invalid = await field.getAttribute('aria-invalid');
  const ids = ((await field.getAttribute('aria-describedby')) ?? '').split(' ').filter(Boolean);
  const texts = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).innerText()));
  return { invalid, text: texts.join('\n') };
}

beforeAll(async () => {
  // One repository: the off-site copy of every backup would only make the file slower.
  c = await startTestConsole({
    sharedBackups: true,
    config: { backups: { backupTimeoutMinutes: 10, repositories: [{ kind: 'path' }] } },
  });
  // Restores of one database of the shared cluster replay others' changes onto zeroed pages: they need these.
  await turnOnFullPageWrites(admin());
  const created = await c.t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
  expect(created.status, created.text).toBe(201);
  const [account] = await Promise.all([
    c.operator('rhea', 'operator'),
    c.t.waitForStages(slug, 'ready', 60_000),
  ]);
  ops = account;
  const database = await c.t.database(slug, 'prod');
  await withClient(admin(database), async (client) => {
    await client.query(`set role ${database}`);
    await client.query('create table ledger (id bigserial primary key, note text not null)');
    await client.query(`insert into ledger (note) select 'row ' || g from generate_series(1, 200) g`);
  });
  // A differential on the full Steward takes at start (made before the stage had a database): quicker
  // than another full. The operator signs in meanwhile.
  const [backup] = await Promise.all([
    backupNow(c.t, slug, 'prod', { type: 'diff', repo: 1 }),
    (async () => {
      page = await c.newPage();
      await c.signIn(page, ops);
    })(),
  ]);
  backupLabel = backup.repos[0]?.run?.label ?? '';
  target = await betweenTwoRows((note) =>
    withClient(admin(database), (client) => client.query('insert into ledger (note) values ($1)', [note])),
  );
}, 180_000);

afterAll(async () => {
  await c?.close();
}, 60_000);

describe('the console: restoring a stage', () => {
  it('shows the window, and puts the API refusals (a time outside it, a stage that exists) under their fields, changing nothing', async () => {
    await page.goto(`${c.origin}/backups?tab=stage&tenant=${slug}&stage=prod`);
    await page.getByRole('heading', { name: 'Restore this stage to a point in time' }).waitFor();
    await expect.poll(() => page.getByText(/^Restorable window: .+ – now/).count()).toBe(1);

    await page.getByLabel('Point in time', { exact: true }).fill('2020-01-01T00:00:00Z');
    await page.getByLabel('New stage', { exact: true }).fill('copy');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'is before the oldest backup' }).waitFor();
    const refused = await fieldError('Point in time');
    expect(refused.invalid).toBe('true');
    expect(refused.text).toMatch(
      new RegExp(
        `^field "toTime": to-time 2020-01-01T00:00:00.000Z is before the oldest backup; restorable range for ${slug}/prod in repo1: \\S+ … now`,
        'm',
      ),
    );
    // A time inside the window, into a stage the tenant has: the refusal moves to that field.
    await page.getByLabel('Point in time', { exact: true }).fill(target.toISOString());
    await page.getByLabel('New stage', { exact: true }).fill('prod');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'already has a stage prod' }).waitFor();
    expect((await fieldError('Point in time')).invalid).toBeNull();
    expect(await fieldError('New stage')).toEqual({
      invalid: 'true',
      text: `tenant ${slug} already has a stage prod; restore into a new stage (or in place, with confirmation)`,
    });
    const restores = await c.t.request('GET', `/api/v1/tenants/${slug}/restores`);
    expect(restores.body.restores).toEqual([]);
    expect(
      (await c.t.request('GET', `/api/v1/tenants/${slug}`)).body.stages.map((s: { name: string }) => s.name),
    ).toEqual(['prod']);
  });

  it('restores in place after the stage name is typed, by keyboard alone, and shows the restore to its end with its evidence', async () => {
    const toTime = page.getByLabel('Point in time', { exact: true });
    await toTime.fill(target.toISOString());
    await page.getByLabel('Where to restore', { exact: true }).selectOption('in-place');
    expect(await page.getByLabel('New stage', { exact: true }).count()).toBe(0);
    await noViolations('restore form');

    // The keyboard from here: the submit button, Enter opens the dialog with the focus in its name field.
    const submit = page.getByRole('button', { name: 'Restore', exact: true });
    await submit.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: `Restore ${slug}/prod in place?` });
    await dialog.waitFor();
    const go = dialog.getByRole('button', { name: 'Restore in place' });
    const nameField = dialog.getByLabel('Type the stage’s name, prod, to confirm');
    await expect.poll(() => nameField.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await go.isDisabled()).toBe(true);
    // Escape cancels, focus goes back to the button; Enter opens it again.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => submit.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.type('pro');
    await page.keyboard.press('Enter'); // not the stage's name: nothing is sent
    expect(await go.isDisabled()).toBe(true);
    await page.keyboard.type('d');
    expect(await go.isDisabled()).toBe(false);
    await noViolations('restore confirmation');
    await c.screenshot(page, 'restore-form');
    await page.keyboard.press('Tab'); // Cancel
    await page.keyboard.press('Tab'); // Restore in place
    await expect.poll(() => go.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');

    await dialog.waitFor({ state: 'hidden' });
    const progress = page.getByRole('region', { name: /^Restore [0-9a-f-]{36}$/ });
    await progress.waitFor();
    expect(page.url()).toMatch(/[?&]restore=[0-9a-f-]{36}/);
    await progress.getByRole('heading', { name: 'Evidence' }).waitFor({ timeout: 150_000 });
    const evidence = await progress.innerText();
    expect(evidence, evidence).toContain('succeeded');
    expect(evidence).toContain(`${slug}/prod → ${slug}/prod`);
    expect(evidence).toContain('in place (replaces the stage’s database)');
    expect(backupLabel).toMatch(/^\d{8}-\d{6}F_\d{8}-\d{6}D$/);
    expect(evidence).toMatch(new RegExp(`Backup\\s+${backupLabel} \\(repo1, shared\\)`));
    expect(evidence).toMatch(/Took \(measured RTO\)\s+\d/);
    expect(evidence).toMatch(/Kept database\s+\S+/);
    const steps = progress.getByRole('list', { name: /^Steps of restore/ });
    expect(await steps.locator('.step-done').count()).toBe(await steps.locator('li').count());
    await noViolations('restore done');
    await c.screenshot(page, 'restore-done');

    // What the stage holds now is what it held at the time picked.
    expect(await notes()).toEqual(['before the target']);
  });
});
