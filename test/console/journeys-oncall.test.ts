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
 * Editing on call and freezing an SLA report through the console in Debian's
 * Chromium: an operator's contact (a bad address named under its field,
 * then a good one), an escalation policy of two steps reordered by keyboard,
 * a policy set elsewhere appearing live, an override of a schedule, an SLA report of a closed period
 * frozen before the automatic freeze; the forms hidden from an auditor; axe
 * on each form. Steward's clock is the real one, moved back to the first
 * morning of this month for the freeze (the month before closed hours ago).
 */
let c: TestConsole;
let ops: ConsoleAccount;
let page: Page;
let offsetMs = 0;
const slug = `onc${Date.now().toString(36).slice(-5)}`;

const noViolations = (name: string): Promise<void> => expectAccessible(c, page, name);

const open = (path: string, heading: string | RegExp): Promise<void> => openPage(c, page, path, heading);

beforeAll(async () => {
  c = await startTestConsole({ workers: false, clock: { now: () => new Date(Date.now() + offsetMs) } });
  const created = await c.t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
  expect(created.status, created.text).toBe(201);
  ops = await c.operator('otto', 'owner');
  const schedule = await c.t.request('POST', '/api/v1/oncall/schedules', {
    name: 'primary',
    rotation: 'weekly',
    tz: 'Europe/Berlin',
    members: ['otto'],
  });
  expect(schedule.status, schedule.text).toBe(201);
  page = await c.newPage();
  await c.signIn(page, ops);
}, 180_000);

afterAll(async () => {
  await c?.close();
});

describe('the console: on call and SLA freeze', () => {
  it("edits an operator's contact: a bad address under its field, then a good one", async () => {
    await open('/oncall', 'On call');
    await page.getByRole('button', { name: 'Edit the contact of otto' }).click();
    const form = page.getByRole('form', { name: 'Set where an operator is paged' });
    const email = form.getByLabel('Email address');
    await expect.poll(() => email.evaluate((e) => e === document.activeElement)).toBe(true);
    await email.fill('otto at example');
    await form.getByRole('button', { name: 'Save the contact' }).click();
    await expect.poll(() => email.getAttribute('aria-invalid')).toBe('true');
    expect(await form.locator('.field-error').innerText()).toMatch(/field "email": "otto at example"/);
    await noViolations('contact form with an error');
    await email.fill('otto@example.com');
    await form.getByRole('button', { name: 'Save the contact' }).click();
    await page.getByRole('status').filter({ hasText: 'otto is paged at the new address.' }).waitFor();
    await page.getByRole('cell', { name: 'otto@example.com' }).waitFor();
    const contacts = await c.t.request('GET', '/api/v1/oncall/contacts');
    expect(contacts.body.contacts).toContainEqual({ username: 'otto', email: 'otto@example.com' });
  });

  it('creates an escalation policy of two steps, reordered by keyboard', async () => {
    await page.getByRole('button', { name: 'New escalation policy' }).click();
    const form = page.getByRole('form', { name: 'New escalation policy' });
    await form.getByLabel('Name').fill('night');
    await form.getByLabel('Step 1: schedule').selectOption('primary');
    await form.getByRole('button', { name: 'Add a step' }).click();
    await form.getByLabel('Step 2: wait').fill('15');
    await form.getByLabel('Step 2: notify').selectOption('owners');
    // Keyboard only: the owners first, then the schedule.
    await form.getByRole('button', { name: 'Move step 2 up' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => form.getByLabel('Step 1: wait').inputValue()).toBe('15');
    await noViolations('escalation policy editor');
    await c.screenshot(page, 'oncall-policy-edit');
    await form.getByRole('button', { name: 'Save the policy' }).click();
    await page.getByRole('status').filter({ hasText: 'Escalation policy night saved.' }).waitFor();
    const listed = await c.t.request('GET', '/api/v1/oncall/escalation-policies');
    expect(listed.body.policies).toContainEqual({
      name: 'night',
      steps: ['after 15m notify owners', 'notify schedule primary'],
      repeat: 0,
    });
    // Edited again: the editor holds its steps as fields.
    await page.getByRole('button', { name: 'Edit escalation policy night' }).click();
    const edit = page.getByRole('form', { name: 'Edit escalation policy night' });
    expect(await edit.getByLabel('Step 1: wait').inputValue()).toBe('15');
    expect(await edit.getByLabel('Step 2: schedule').inputValue()).toBe('primary');
    await edit.getByRole('button', { name: 'Cancel' }).click();
    // Set elsewhere (the CLI), shown here without a reload.
    const day = await c.t.request('PUT', '/api/v1/oncall/escalation-policies/day', {
      steps: ['notify channels'],
    });
    expect(day.status, day.text).toBe(200);
    await page.getByRole('heading', { name: 'day', level: 3 }).waitFor();
  });

  it('adds an override to a schedule: who, from, until', async () => {
    await open('/oncall/primary', 'Schedule primary');
    const form = page.getByRole('form', { name: 'Cover a shift' });
    const from = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    const until = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 16);
    await form.getByLabel('Operator').selectOption('admin');
    await form.getByLabel(/^From/).fill(`${from}Z`);
    await form.getByLabel(/^Until/).fill(`${until}Z`);
    await noViolations('override form');
    await form.getByRole('button', { name: 'Cover a shift' }).click();
    await page.getByRole('status').filter({ hasText: 'Override added.' }).waitFor();
    await page
      .getByRole('table', { name: 'Overrides' })
      .getByRole('rowheader', { name: 'admin *' })
      .waitFor();
    const shown = await c.t.request('GET', '/api/v1/oncall/schedules/primary');
    expect(shown.body.overrides).toContainEqual(
      expect.objectContaining({ member: 'admin', from: `${from}:00.000Z`, until: `${until}:00.000Z` }),
    );
  });

  it('freezes the SLA report of a closed month before the automatic freeze', async () => {
    const now = new Date();
    const firstMorning = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1, 6);
    const before = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const period = before.toISOString().slice(0, 7);
    const policy = await c.t.request('PUT', `/api/v1/tenants/${slug}/sla/policy`, {
      target: 99.9,
      timeZone: 'UTC',
      effectiveFrom: `${period}-01T00:00:00Z`,
    });
    expect(policy.status, policy.text).toBe(201);
    offsetMs = firstMorning - Date.now();
    try {
      await open(`/sla?tenant=${slug}&period=${period}`, 'SLA reports');
      await page.getByText(/Closed, not yet frozen/).waitFor();
      await page.getByRole('button', { name: 'Freeze' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText(/The figures as they are now become the report/).waitFor();
      await noViolations('freeze dialog');
      await dialog.getByRole('button', { name: 'Freeze' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `The report of ${period} is frozen.` })
        .waitFor();
      const facts = page.getByRole('definition');
      await facts.filter({ hasText: 'operator:otto' }).waitFor();
      await expect.poll(() => page.getByRole('button', { name: 'Freeze' }).count()).toBe(0);
      await noViolations('frozen SLA report');
      await c.screenshot(page, 'sla-frozen');
      const report = await c.t.request('GET', `/api/v1/tenants/${slug}/sla/reports/${period}`);
      expect(report.body.frozen).toMatchObject({ frozenBy: 'operator:otto', evidenceChanged: false });
      expect(await page.getByText(report.body.frozen.inputsSha256).count()).toBeGreaterThan(0);
    } finally {
      offsetMs = 0;
    }
  });

  it('hides the forms from an auditor', async () => {
    const auditor = await c.operator('audra', 'auditor');
    page = await c.newPage();
    await c.useSession(page, auditor);
    await open('/oncall', 'On call');
    await page.getByRole('heading', { name: 'night', level: 3 }).waitFor();
    expect(await page.getByRole('button', { name: /Edit|New escalation policy/ }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Set where an operator is paged' }).count()).toBe(0);
  });
});
