import { describe, expect, it } from 'vitest';
import {
  describeSeverities,
  dueNotices,
  needsPostmortem,
  noticeDeadlines,
  parsePostmortem,
  postmortemExample,
} from '../../../src/incidents/index.ts';
import type { NoticeFacts } from '../../../src/incidents/notices.ts';
import { InputError } from '../../../src/core/errors.ts';

const hour = 3600;
const confirmed = '2026-12-06T00:00:00.000Z';
const at = (h: number): Date => new Date(Date.parse(confirmed) + h * 3_600_000);
const breach = (patch: Partial<NoticeFacts> = {}): NoticeFacts => ({
  id: '7',
  tenant: 'acme',
  title: 'Customer data exposed',
  breachConfirmedAt: confirmed,
  customerNoticeSeconds: 24 * hour,
  authorityNoticeSeconds: 72 * hour,
  customersNotifiedAt: null,
  customersNotifiedWho: null,
  authorityNotifiedAt: null,
  authorityNotifiedWho: null,
  ...patch,
});
const remind = [720, 120, 30];

describe('notice deadlines', () => {
  it('none without a confirmed breach', () => {
    expect(noticeDeadlines(breach({ breachConfirmedAt: null }), at(100))).toEqual([]);
    expect(dueNotices(breach({ breachConfirmedAt: null }), at(100), remind)).toEqual([]);
  });

  it.each([
    ['open before the deadline', {}, 23, 'open', 'open'],
    ['missed once it passes unnotified', {}, 24, 'missed', 'open'],
    [
      'notified in time',
      { customersNotifiedAt: at(20).toISOString(), customersNotifiedWho: 'anna by email' },
      30,
      'notified',
      'open',
    ],
    [
      'notified late',
      { customersNotifiedAt: at(25).toISOString(), customersNotifiedWho: 'anna by email' },
      30,
      'notified-late',
      'open',
    ],
    ['the authority missed after 72 h', {}, 72.5, 'missed', 'missed'],
    ["the tenant's shorter term", { customerNoticeSeconds: 12 * hour }, 13, 'missed', 'open'],
  ] as const)('%s', (_name, patch, hours, customers, authority) => {
    const [c, a] = noticeDeadlines(breach(patch), at(hours));
    expect(c).toMatchObject({ party: 'customers', state: customers });
    expect(a).toMatchObject({ party: 'authority', state: authority, due: at(72).toISOString() });
  });
});

describe('due reminders and escalations', () => {
  it.each([
    ['nothing right after the confirmation', 1, []],
    ['12 h before the customers deadline', 12, ['incident:7:customers:remind:720']],
    ['the nearest passed threshold only (a late pass sends one)', 22.5, ['incident:7:customers:remind:120']],
    ['30 min before', 23.6, ['incident:7:customers:remind:30']],
    ['missed: escalated, no reminder', 24, ['incident:7:customers:missed']],
    ['authority reminders too', 60.5, ['incident:7:customers:missed', 'incident:7:authority:remind:720']],
    ['both missed', 80, ['incident:7:customers:missed', 'incident:7:authority:missed']],
  ] as const)('%s', (_name, hours, keys) => {
    expect(dueNotices(breach(), at(hours), remind).map((n) => n.key)).toEqual(keys);
  });

  it('stops for a party once it is told; a confirmation after the fact sends one reminder, not a burst', () => {
    const told = breach({ customersNotifiedAt: at(2).toISOString(), customersNotifiedWho: 'anna' });
    expect(dueNotices(told, at(30), remind)).toEqual([]);
    expect(dueNotices(told, at(71), remind).map((n) => n.key)).toEqual(['incident:7:authority:remind:120']);
  });

  it('says what is due, by when, and how to record it', () => {
    const [reminder] = dueNotices(breach(), at(22), remind);
    expect(reminder).toMatchObject({ kind: 'incident-reminder', party: 'customers' });
    expect(reminder?.subject).toBe('2 h left to tell the affected customers of security incident 7 (acme)');
    expect(reminder?.body).toContain(`must be told by ${at(24).toISOString()}`);
    expect(reminder?.body).toContain('steward incident notified 7 --party customers');
    const [missed] = dueNotices(breach(), at(25.5), remind);
    expect(missed).toMatchObject({ kind: 'incident-escalation' });
    expect(missed?.subject).toContain('MISSED');
    expect(missed?.body).toContain('1 h 30 min past that, nobody is recorded as told');
  });
});

describe('severities', () => {
  it('1 and 2 need a post-mortem before closing; the rules are written out', () => {
    expect([1, 2, 3, 4].map(needsPostmortem)).toEqual([true, true, false, false]);
    const text = describeSeverities();
    for (const name of ['1 critical', '2 major', '3 minor', '4 low']) expect(text).toContain(name);
    expect(text).toContain('security breach is confirmed');
  });
});

describe('post-mortem', () => {
  it('reads the documented example (YAML) and the same as JSON', () => {
    const pm = parsePostmortem(postmortemExample);
    expect(pm).toMatchObject({
      impact: { slaMinutes: 42 },
      actions: [{ owner: 'anna', due: '2026-12-20' }],
      checks: [{ what: 'HTTP check of /api/login expecting 200 every 10s' }],
    });
    expect(parsePostmortem(JSON.stringify(pm))).toEqual(pm);
  });

  const valid = {
    cause: 'pool exhausted',
    impact: { slaMinutes: 10, summary: 'logins failed' },
    actions: [{ what: 'raise the pool', owner: 'anna', due: '2026-12-20' }],
    checks: [],
  };
  it.each([
    ['no cause', { ...valid, cause: undefined }, 'postmortem.cause', /is required/],
    [
      'negative SLA minutes',
      { ...valid, impact: { ...valid.impact, slaMinutes: -3 } },
      'postmortem.impact.slaMinutes',
      /at least 0/,
    ],
    ['no actions', { ...valid, actions: [] }, 'postmortem.actions', /at least 1/],
    [
      'a due date that is no date',
      { ...valid, actions: [{ what: 'x', owner: 'anna', due: 'next week' }] },
      'postmortem.actions.0.due',
      /"next week" is not accepted; use a date such as 2026-12-20/,
    ],
    [
      'a date that does not exist',
      { ...valid, actions: [{ what: 'x', owner: 'anna', due: '2026-02-30' }] },
      'postmortem.actions.0.due',
      /"2026-02-30" is not accepted/,
    ],
    [
      'an owner that is no login',
      { ...valid, actions: [{ what: 'x', owner: 'anna; rm', due: '2026-12-20' }] },
      'postmortem.actions.0.owner',
      /"anna; rm" is not accepted; use a login/,
    ],
    ['no checks field', { ...valid, checks: undefined }, 'postmortem.checks', /is required/],
    [
      'an unknown field',
      { ...valid, blame: 'ben' },
      'postmortem.blame',
      /accepted fields are: cause, impact/,
    ],
  ])('refuses %s, naming the field', (_name, doc, field, message) => {
    let error: unknown;
    try {
      parsePostmortem(JSON.stringify(doc));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe(field);
    expect((error as InputError).message).toMatch(message);
  });

  it('refuses text that is not a mapping, and YAML aliases', () => {
    expect(() => parsePostmortem('just some words')).toThrow(/cause, impact, actions and checks/);
    expect(() => parsePostmortem('cause: [unclosed')).toThrow(/not YAML or JSON/);
    expect(() => parsePostmortem('a: &x [1]\nb: *x\n')).toThrow(/field "postmortem"/);
  });
});
