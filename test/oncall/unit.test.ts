import { describe, expect, it } from 'vitest';
import {
  checkNewOverride,
  checkNewSchedule,
  rotationAt,
  upcomingShifts,
  whoIsOnCall,
  type Schedule,
} from '../../src/oncall/schedule.ts';
import { checkPolicy, planEscalation, timeline, type Policy } from '../../src/oncall/escalation.ts';
import { signLink, verifyLink } from '../../src/oncall/link.ts';
import { reactionReport, type AlertTimes } from '../../src/oncall/report.ts';
import { instantOf, localTime } from '../../src/oncall/zoned.ts';
import { confirmPage, errorPage, pageBody } from '../../src/oncall/page-text.ts';
import type { AlertView } from '../../src/alerts/index.ts';

const operators = ['anna', 'ben', 'cleo'];
const at = (iso: string): Date => new Date(iso);

function schedule(rotation: 'daily' | 'weekly', created: string, handoff = '09:00'): Schedule {
  return checkNewSchedule(
    { name: 'ops', rotation, timeZone: 'Europe/Berlin', handoff, members: ['anna', 'ben'] },
    operators,
    at(created),
  );
}

describe('zoned time', () => {
  it('maps local wall-clock times to instants across both DST changes in Europe/Berlin', () => {
    const day = (iso: string): number => localTime(at(iso), 'UTC').day;
    const cases: [string, number, string][] = [
      ['2026-03-28', 9 * 60, '2026-03-28T08:00:00.000Z'], // CET, +1
      ['2026-03-29', 9 * 60, '2026-03-29T07:00:00.000Z'], // CEST, +2
      ['2026-03-29', 2 * 60 + 30, '2026-03-29T01:30:00.000Z'], // skipped: 03:30 CEST
      ['2026-10-25', 2 * 60 + 30, '2026-10-25T00:30:00.000Z'], // twice: the first (CEST)
      ['2026-10-25', 9 * 60, '2026-10-25T08:00:00.000Z'], // CET again
    ];
    for (const [date, minute, expected] of cases) {
      expect(instantOf(day(`${date}T12:00Z`), minute, 'Europe/Berlin').toISOString(), date).toBe(expected);
    }
  });
});

describe('schedules', () => {
  it('daily: hands off at 09:00 Berlin time, 23 h apart over the spring DST change', () => {
    const s = schedule('daily', '2026-03-27T10:00Z');
    const table: [string, string][] = [
      ['2026-03-27T10:00Z', 'anna'],
      ['2026-03-28T07:59Z', 'anna'], // 08:59 CET
      ['2026-03-28T08:00Z', 'ben'], // 09:00 CET
      ['2026-03-29T06:59Z', 'ben'], // 08:59 CEST: a naive 24 h shift would still be ben's until 08:00Z
      ['2026-03-29T07:00Z', 'anna'], // 09:00 CEST
      ['2026-03-29T07:30Z', 'anna'],
    ];
    for (const [when, member] of table) expect(whoIsOnCall(s, [], at(when)).member, when).toBe(member);
    const shift = rotationAt(s, at('2026-03-28T12:00Z'));
    expect(shift.from.toISOString()).toBe('2026-03-28T08:00:00.000Z');
    expect(shift.until.toISOString()).toBe('2026-03-29T07:00:00.000Z');
  });

  it('daily: a 25 h shift over the autumn change', () => {
    const s = schedule('daily', '2026-10-24T10:00Z');
    const shift = rotationAt(s, at('2026-10-24T12:00Z'));
    expect(shift).toMatchObject({ member: 'anna' });
    expect(shift.from.toISOString()).toBe('2026-10-24T07:00:00.000Z');
    expect(shift.until.toISOString()).toBe('2026-10-25T08:00:00.000Z');
    expect(whoIsOnCall(s, [], at('2026-10-25T07:30Z')).member).toBe('anna');
    expect(whoIsOnCall(s, [], at('2026-10-25T08:00Z')).member).toBe('ben');
  });

  it('weekly: a 167 h week over the spring change, handing off Monday 09:00 Berlin either side', () => {
    const s = schedule('weekly', '2026-03-25T12:00Z');
    const week = rotationAt(s, at('2026-03-28T12:00Z'));
    expect(week.from.toISOString()).toBe('2026-03-23T08:00:00.000Z');
    expect(week.until.toISOString()).toBe('2026-03-30T07:00:00.000Z');
    expect(whoIsOnCall(s, [], at('2026-03-30T06:59Z')).member).toBe('anna');
    expect(whoIsOnCall(s, [], at('2026-03-30T07:00Z')).member).toBe('ben');
  });

  it('weekly: hands off on Mondays at the hand-off time', () => {
    // Wednesday 2026-12-02.
    const s = schedule('weekly', '2026-12-02T12:00Z', '10:30');
    expect(whoIsOnCall(s, [], at('2026-12-07T09:29Z')).member).toBe('anna'); // Monday 10:29 CET
    expect(whoIsOnCall(s, [], at('2026-12-07T09:30Z')).member).toBe('ben');
    expect(whoIsOnCall(s, [], at('2026-12-14T09:30Z')).member).toBe('anna');
    const shifts = upcomingShifts(s, at('2026-12-02T12:00Z'), 3);
    expect(shifts.map((x) => [x.member, x.from.toISOString()])).toEqual([
      ['anna', '2026-11-30T09:30:00.000Z'],
      ['ben', '2026-12-07T09:30:00.000Z'],
      ['anna', '2026-12-14T09:30:00.000Z'],
    ]);
  });

  it('overrides cover from..until, the newest winning', () => {
    const s = schedule('daily', '2026-12-01T10:00Z');
    const o = (id: string, member: string, from: string, until: string, created: string) => ({
      id,
      member,
      from: at(from),
      until: at(until),
      createdAt: at(created),
    });
    const overrides = [
      o('1', 'cleo', '2026-12-01T12:00Z', '2026-12-01T18:00Z', '2026-12-01T10:00Z'),
      o('2', 'ben', '2026-12-01T14:00Z', '2026-12-01T15:00Z', '2026-12-01T11:00Z'),
    ];
    expect(whoIsOnCall(s, overrides, at('2026-12-01T11:59Z')).member).toBe('anna');
    expect(whoIsOnCall(s, overrides, at('2026-12-01T12:00Z'))).toMatchObject({
      member: 'cleo',
      override: '1',
    });
    expect(whoIsOnCall(s, overrides, at('2026-12-01T14:30Z'))).toMatchObject({
      member: 'ben',
      override: '2',
    });
    expect(whoIsOnCall(s, overrides, at('2026-12-01T18:00Z')).member).toBe('anna');
  });

  it('bad input names the field, the value and what is accepted', () => {
    const base = { name: 'ops', rotation: 'daily', timeZone: 'Europe/Berlin', members: ['anna'] };
    const now = at('2026-12-01T00:00Z');
    expect(() => checkNewSchedule({ ...base, rotation: 'hourly' }, operators, now)).toThrow(
      'field "rotation": "hourly" is not accepted; use one of daily, weekly',
    );
    expect(() => checkNewSchedule({ ...base, timeZone: 'Europe/Berlinn' }, operators, now)).toThrow(
      /field "tz": "Europe\/Berlinn" is not a time zone; use an IANA name such as Europe\/Berlin/,
    );
    expect(() => checkNewSchedule({ ...base, timeZone: '+01:00' }, operators, now)).toThrow(/field "tz"/);
    expect(() => checkNewSchedule({ ...base, members: ['anna', 'zed'] }, operators, now)).toThrow(
      'field "members": "zed" is not an operator; operators are: anna, ben, cleo',
    );
    expect(() => checkNewSchedule({ ...base, handoff: '9am' }, operators, now)).toThrow(
      /field "handoff": "9am" is not a time of day; use HH:MM/,
    );
    expect(() => checkNewSchedule({ ...base, name: 'Ops!' }, operators, now)).toThrow(/field "name"/);
    expect(() =>
      checkNewOverride(
        { member: 'ben', from: '2026-12-02T10:00Z', until: '2026-12-02T09:00Z' },
        operators,
        now,
      ),
    ).toThrow(/field "until".*is not after from/);
    expect(() =>
      checkNewOverride({ member: 'ben', from: 'tomorrow', until: '2026-12-02T09:00Z' }, operators, now),
    ).toThrow(/field "from": "tomorrow" is not an instant/);
  });
});

describe('escalation', () => {
  const known = { schedules: ['ops'], operators, channels: ['ops-slack'] };
  const policy: Policy = checkPolicy(
    { name: 'default', steps: ['notify schedule ops', 'after 15m notify owners'], repeat: 2 },
    known,
  );

  it('lays the rounds out: the next round after the longest delay when the first step has none', () => {
    expect(timeline(policy).map((p) => [p.round, p.step, p.offsetSeconds / 60])).toEqual([
      [0, 0, 0],
      [0, 1, 15],
      [1, 0, 30],
      [1, 1, 45],
      [2, 0, 60],
      [2, 1, 75],
    ]);
  });

  it('plans what is due, what was sent, when next, and stops on acknowledgement', () => {
    const firedAt = at('2026-12-01T10:00Z');
    const plan = (minutes: number, sent: string[], status: 'firing' | 'acknowledged' = 'firing') =>
      planEscalation(
        policy,
        { firedAt, status, sent: new Set(sent) },
        new Date(firedAt.getTime() + minutes * 60_000),
      );
    expect(plan(0, [])).toMatchObject({
      kind: 'page',
      due: [{ round: 0, step: 0 }],
      nextAt: at('2026-12-01T10:15Z'),
    });
    expect(plan(5, ['0.0'])).toEqual({ kind: 'wait', nextAt: at('2026-12-01T10:15Z') });
    // A pass that was down for a while pages everything overdue, once.
    expect(plan(31, ['0.0'])).toMatchObject({
      kind: 'page',
      due: [
        { round: 0, step: 1 },
        { round: 1, step: 0 },
      ],
    });
    expect(plan(31, ['0.0'], 'acknowledged')).toEqual({ kind: 'done', reason: 'the alert is acknowledged' });
    expect(plan(80, ['0.0', '0.1', '1.0', '1.1', '2.0', '2.1'])).toMatchObject({ kind: 'done' });
  });

  it('parses steps and refuses bad ones, naming the field', () => {
    expect(
      checkPolicy(
        {
          name: 'x',
          steps: [
            'notify channel ops-slack',
            'after 30s notify operators anna,ben',
            'after 2h notify owners',
          ],
        },
        known,
      ).steps,
    ).toEqual([
      { afterSeconds: 0, target: { kind: 'channel', channel: 'ops-slack' } },
      { afterSeconds: 30, target: { kind: 'operators', operators: ['anna', 'ben'] } },
      { afterSeconds: 7200, target: { kind: 'owners' } },
    ]);
    expect(() => checkPolicy({ name: 'x', steps: ['page ops'] }, known)).toThrow(
      /field "steps": "page ops" is not a step; use "\[after N s\|m\|h\] notify schedule/,
    );
    expect(() => checkPolicy({ name: 'x', steps: ['notify schedule dev'] }, known)).toThrow(
      'field "steps": no schedule "dev"; schedules are: ops',
    );
    expect(() => checkPolicy({ name: 'x', steps: ['notify operators anna,zed'] }, known)).toThrow(
      'field "steps": "zed" is not an operator',
    );
    expect(() => checkPolicy({ name: 'x', steps: ['notify owners'], repeat: 2 }, known)).toThrow(
      /field "repeat": 2 rounds would page all at once/,
    );
  });
});

describe('signed links', () => {
  const key = Buffer.alloc(32, 7);
  const now = at('2026-12-01T10:00Z');
  const claims = {
    alert: '42',
    action: 'acknowledge' as const,
    recipient: 'anna',
    expiresAt: at('2026-12-02T10:00Z'),
  };

  it('verifies its own, refuses forged, tampered and expired ones', () => {
    const token = signLink(key, claims);
    const ok = verifyLink(key, token, now);
    expect(ok).toMatchObject({ ok: true, claims: { alert: '42', action: 'acknowledge', recipient: 'anna' } });
    expect(verifyLink(Buffer.alloc(32, 8), token, now)).toMatchObject({ ok: false, reason: 'forged' });
    const [payload, sig] = token.split('.') as [string, string];
    const evil = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), a: '43' }),
    ).toString('base64url');
    expect(verifyLink(key, `${evil}.${sig}`, now)).toMatchObject({ ok: false, reason: 'forged' });
    expect(verifyLink(key, token, at('2026-12-02T10:00Z'))).toMatchObject({ ok: false, reason: 'expired' });
    expect(verifyLink(key, 'nonsense', now)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(signLink(key, claims)).not.toBe(token);
  });
});

describe('reaction report', () => {
  it('counts, median, p90, max and the target', () => {
    const fired = (i: number) => new Date(Date.UTC(2026, 11, 1 + i, 10));
    const plus = (d: Date, s: number) => new Date(d.getTime() + s * 1000);
    const alerts: AlertTimes[] = [60, 120, 300, 1200].map((ack, i) => ({
      id: String(i),
      firedAt: fired(i),
      firstNotifiedAt: plus(fired(i), 5 + i),
      acknowledgedAt: plus(fired(i), ack),
      resolvedAt: plus(fired(i), ack + 600),
    }));
    alerts.push({
      id: 'nov',
      firedAt: at('2026-11-30T23:59Z'),
      firstNotifiedAt: null,
      acknowledgedAt: null,
      resolvedAt: null,
    });
    const report = reactionReport('2026-12', alerts, 900, at('2027-01-02T00:00Z'));
    expect(report).toMatchObject({
      alerts: 4,
      metTarget: 3,
      missedTarget: 1,
      toFirstNotification: { count: 4, medianSeconds: 6, p90Seconds: 8, maxSeconds: 8 },
      toAcknowledgement: { count: 4, medianSeconds: 120, p90Seconds: 1200, maxSeconds: 1200 },
      toResolution: { count: 4, maxSeconds: 1800 },
    });
    expect(report.perAlert.map((a) => [a.id, a.toAcknowledgementSeconds, a.metTarget])).toEqual([
      ['0', 60, true],
      ['1', 120, true],
      ['2', 300, true],
      ['3', 1200, false],
    ]);
    expect(() => reactionReport('2026-13', [], 900, at('2027-01-02T00:00Z'))).toThrow(
      'field "month": "2026-13" is not a month; use YYYY-MM, such as 2026-12',
    );
  });
});

describe('page text', () => {
  const alert: AlertView = {
    id: '7',
    rule: null,
    source: 'alertmanager',
    dedupKey: 'k',
    groupKey: 'acme/prod',
    tenant: 'acme',
    stage: 'prod',
    severity: 'critical',
    status: 'firing',
    summary: '<script>alert(1)</script> & "down"',
    details: { label: '<img src=x onerror=alert(1)>' },
    flapping: false,
    mutedBy: null,
    startedAt: '2026-12-01T10:00:00.000Z',
    firedAt: '2026-12-01T10:00:00.000Z',
    firstNotifiedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    resolveNote: null,
  };

  it('escapes what a tenant or an outside alert controls in the link pages', () => {
    const html = confirmPage({ alert, action: 'acknowledge', recipient: 'anna' });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;down&quot;');
    expect(html).toContain('<form method="post"><button type="submit">Acknowledge as anna</button></form>');
    expect(errorPage('x', '<b>')).toContain('&lt;b&gt;');
  });

  it('a page names the alert, why this person, both links and the CLI', () => {
    const body = pageBody({
      alert,
      why: 'Paged by step 1 of 1',
      links: { acknowledge: 'https://s/a', resolve: 'https://s/r', expiresAt: new Date('2026-12-02T10:00Z') },
    });
    expect(body).toContain('CRITICAL alert 7: <script>');
    expect(body).toContain('Tenant acme, stage prod');
    expect(body).toContain('Acknowledge: https://s/a\nResolve:     https://s/r');
    expect(body).toContain('steward alert ack 7');
  });
});
