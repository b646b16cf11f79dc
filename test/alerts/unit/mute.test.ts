import { describe, expect, it } from 'vitest';
import { inhibits, mutedBy, type Inhibitor, type Window } from '../../../src/alerts/mute.ts';
import { alertGroupNotification, alertNotification } from '../../../src/alerts/pager.ts';
import { alertIdsOfKey } from '../../../src/alerts/pager.ts';
import type { AlertView } from '../../../src/alerts/contract.ts';

const now = new Date('2026-12-06T12:00:00Z');
const window = (id: string, tenant: string, stage: string | null, from: string, to: string): Window => ({
  id,
  tenant,
  stage,
  startsAt: `2026-12-06T${from}:00Z`,
  endsAt: `2026-12-06T${to}:00Z`,
});
const open = (
  id: string,
  tenant: string | null,
  stage: string | null,
  status = 'firing',
  inhibitsToo = true,
): Inhibitor => ({ id, tenant, stage, status, inhibits: inhibitsToo, firedAt: now.toISOString() });

describe('mutedBy', () => {
  const acmeProd = { id: '10', tenant: 'acme', stage: 'prod' };
  const none = { now, maintenance: [], silences: [], open: [] };

  it.each([
    ['nothing', {}, null],
    ['a silence of the tenant', { silences: [window('1', 'acme', null, '11:00', '13:00')] }, 'silence:1'],
    ['a silence of the stage', { silences: [window('2', 'acme', 'prod', '11:00', '13:00')] }, 'silence:2'],
    ['a silence of another stage', { silences: [window('3', 'acme', 'dev', '11:00', '13:00')] }, null],
    ['a silence of another tenant', { silences: [window('4', 'beta', null, '11:00', '13:00')] }, null],
    ['a silence that ended', { silences: [window('5', 'acme', null, '10:00', '12:00')] }, null],
    ['a silence not begun', { silences: [window('6', 'acme', null, '12:01', '13:00')] }, null],
    [
      'maintenance before a silence',
      {
        silences: [window('7', 'acme', null, '11:00', '13:00')],
        maintenance: [window('8', 'acme', 'prod', '11:00', '13:00')],
      },
      'maintenance:8',
    ],
    ['a down shared cluster (a system alert that inhibits)', { open: [open('1', null, null)] }, 'alert:1'],
    ['the tenant-wide inhibitor', { open: [open('2', 'acme', null)] }, 'alert:2'],
    ['an inhibitor of another stage', { open: [open('3', 'acme', 'dev')] }, null],
    ['a pending inhibitor', { open: [open('4', null, null, 'pending')] }, null],
    ['a resolved inhibitor', { open: [open('5', null, null, 'resolved')] }, null],
    ['an alert that does not inhibit', { open: [open('6', null, null, 'firing', false)] }, null],
  ])('%s', (_what, context, expected) => {
    expect(mutedBy(acmeProd, { ...none, ...context })).toBe(expected);
  });

  it('never mutes an alert by itself, nor a system alert by inhibition', () => {
    const self = open('10', 'acme', 'prod');
    expect(mutedBy(acmeProd, { ...none, open: [self] })).toBeNull();
    expect(inhibits(open('1', null, null), { id: '2', tenant: null, stage: null })).toBe(false);
  });

  it('an inhibitor that is itself inhibited does not inhibit (the root cause is told)', () => {
    const cluster = open('1', null, null);
    const stageDb = open('2', 'acme', 'prod');
    expect(mutedBy(acmeProd, { ...none, open: [stageDb, cluster] })).toBe('alert:1');
    expect(mutedBy({ id: '2', tenant: 'acme', stage: 'prod' }, { ...none, open: [stageDb, cluster] })).toBe(
      'alert:1',
    );
  });
});

describe('alert notifications', () => {
  const alert = (id: string, severity: AlertView['severity'], summary: string): AlertView => ({
    id,
    rule: 'stage-down',
    source: 'check',
    dedupKey: `k${id}`,
    groupKey: 'acme/prod',
    tenant: 'acme',
    stage: 'prod',
    severity,
    status: 'firing',
    summary,
    details: { check: { id: '7', kind: 'http', builtin: 'gateway', target: 'GET /healthz' }, seen: '503' },
    flapping: false,
    mutedBy: null,
    startedAt: '2026-12-06T11:59:00.000Z',
    firedAt: '2026-12-06T12:00:00.000Z',
    firstNotifiedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    resolveNote: null,
  });

  it('names where, what was seen, since when and how to acknowledge', () => {
    const n = alertNotification(alert('42', 'critical', 'gateway check down'), 'fired');
    expect(n.key).toBe('alert:42:fired');
    expect(n.subject).toBe('FIRING critical: acme/prod: gateway check down');
    expect(n.body).toContain('Check: 7 http (built-in gateway): GET /healthz');
    expect(n.body).toContain('Seen: 503');
    expect(n.body).toContain('Since: 2026-12-06T11:59:00.000Z (firing since 2026-12-06T12:00:00.000Z)');
    expect(n.body).toContain('steward alert ack 42');
    expect(alertIdsOfKey(n.key)).toEqual(['42']);
  });

  it('tells a group in one notification whose key names every alert in it', () => {
    const n = alertGroupNotification([alert('5', 'warning', 'disk low'), alert('6', 'critical', 'down')]);
    expect(n.subject).toBe('FIRING critical: acme/prod: 2 alerts: disk low; down');
    expect(n.body).toContain('steward alert ack 5');
    expect(n.body).toContain('steward alert ack 6');
    expect(alertIdsOfKey(n.key)).toEqual(['5', '6']);
    expect(alertIdsOfKey('alert:9:page:escalation-2')).toEqual(['9']);
    expect(alertIdsOfKey('notification-failed:3')).toEqual([]);
  });
});
