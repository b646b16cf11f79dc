import { describe, expect, it } from 'vitest';
import { defaultBackupPolicy } from '../../../src/backups/policy.ts';
import { InputError } from '../../../src/core/errors.ts';
import { builtinSpec, parseInterval, parseTimeout, type HttpSpec } from '../../../src/monitoring/specs.ts';
import {
  backupVerdict,
  certificateVerdict,
  combineVerdicts,
  diskVerdict,
  httpVerdict,
  processVerdict,
} from '../../../src/monitoring/verdicts.ts';

const spec = (over: Partial<HttpSpec> = {}): HttpSpec => ({
  ...(builtinSpec('gateway') as HttpSpec),
  ...over,
});

describe('HTTP verdicts', () => {
  it.each([
    ['any 2xx or 3xx by default', spec(), { kind: 'answer', status: 302, body: '' }, 'ok'],
    ['a 5xx fails by default', spec(), { kind: 'answer', status: 503, body: '' }, 'fail'],
    [
      'the expected status only',
      spec({ expectStatus: 204 }),
      { kind: 'answer', status: 200, body: '' },
      'fail',
    ],
    [
      'the body must hold the text',
      spec({ expectBody: 'ok' }),
      { kind: 'answer', status: 200, body: 'nope' },
      'fail',
    ],
    ['and does', spec({ expectBody: 'ok' }), { kind: 'answer', status: 200, body: '{"status":"ok"}' }, 'ok'],
    ['no answer fails', spec(), { kind: 'error', reason: 'ECONNREFUSED' }, 'fail'],
  ] as const)('%s', (_name, s, seen, outcome) => {
    expect(httpVerdict(s, '/x', seen).outcome).toBe(outcome);
  });

  it('says what it saw and what it expected', () => {
    expect(
      httpVerdict(spec({ expectStatus: 200 }), '/api/ping', { kind: 'answer', status: 503, body: '' }),
    ).toEqual({
      outcome: 'fail',
      detail: 'GET /api/ping answered 503, expected 200',
    });
  });

  it('several web processes: all ok is ok, some is degraded, none is a failure', () => {
    const ok = { outcome: 'ok', detail: 'a' } as const;
    const fail = { outcome: 'fail', detail: 'b' } as const;
    expect(combineVerdicts('web processes', [ok, ok]).outcome).toBe('ok');
    expect(combineVerdicts('web processes', [ok, fail])).toEqual({
      outcome: 'degraded',
      detail: '1 of 2 web processes ok; b',
    });
    expect(combineVerdicts('web processes', [fail, fail]).outcome).toBe('fail');
    expect(combineVerdicts('web processes', []).outcome).toBe('fail');
  });
});

describe('backup freshness against the policy', () => {
  const freshness = (hours: number) => ({
    label: 'L',
    type: 'diff' as const,
    repo: 1,
    stoppedAt: '2026-01-01T00:00:00.000Z',
    ageSeconds: hours * 3600,
  });
  it.each([
    [20, 'ok'],
    [36, 'ok'],
    [40, 'degraded'],
    [49, 'fail'],
  ] as const)('the daily policy, a backup %s h old: %s', (hours, outcome) => {
    expect(backupVerdict(defaultBackupPolicy, freshness(hours)).outcome).toBe(outcome);
  });
  it('a new check gets one and a half intervals for the first backup, then fails', () => {
    expect(backupVerdict(defaultBackupPolicy, null, 3600)).toEqual({
      outcome: 'ok',
      detail: 'no backup yet; the first is due within 35 h',
    });
    expect(backupVerdict(defaultBackupPolicy, null, 36 * 3600).outcome).toBe('fail');
  });
  it('no good backup at all fails', () => {
    expect(backupVerdict(defaultBackupPolicy, null)).toEqual({
      outcome: 'fail',
      detail: 'no good backup yet',
    });
  });
});

describe('intervals and timeouts', () => {
  it.each([
    ['10s', 10],
    ['5s', 5],
    ['1h', 3600],
    ['2m', 120],
    [30, 30],
  ] as const)('%s is %s s', (input, seconds) => {
    expect(parseInterval(input)).toBe(seconds);
  });
  it.each(['4s', '61m', '1.5s', 'often', '', '-5s'])(
    'refuses %j, naming the field, the value and the range',
    (input) => {
      expect(() => parseInterval(input)).toThrow(InputError);
      expect(() => parseInterval(input)).toThrow(
        /field "interval": ".*" (is not accepted; use whole seconds from 5s to 1h|is not a duration)/,
      );
    },
  );
  it('timeouts are 100 ms to 60 s', () => {
    expect(parseTimeout('500ms')).toBe(500);
    expect(parseTimeout('2s')).toBe(2000);
    expect(() => parseTimeout('90s')).toThrow(/field "timeout": "90s" is not accepted; use 100ms to 60s/);
  });
});

describe('process state', () => {
  const now = new Date('2026-01-01T00:01:00.000Z');
  const web = { name: 'web.0', phase: 'running', healthy: true, lastExitAt: null };
  const worker = { name: 'worker.0', phase: 'running', healthy: null, lastExitAt: null };
  it.each([
    ['all running', [web, worker], 'ok', '2 of 2 processes running'],
    [
      'a restart within the window',
      [web, { ...worker, lastExitAt: '2026-01-01T00:00:50.000Z' }],
      'degraded',
      '2 of 2 processes running; worker.0 restarted at 2026-01-01T00:00:50.000Z',
    ],
    [
      'a restart before the window',
      [web, { ...worker, lastExitAt: '2026-01-01T00:00:10.000Z' }],
      'ok',
      '2 of 2 processes running',
    ],
    [
      'one in backoff',
      [web, { ...worker, phase: 'backoff' }],
      'degraded',
      '1 of 2 processes running; worker.0 is backoff',
    ],
    [
      'one unhealthy',
      [{ ...web, healthy: false }, worker],
      'degraded',
      '2 of 2 processes running; web.0 is unhealthy',
    ],
    [
      'none running',
      [{ ...web, phase: 'crashloop' }],
      'fail',
      '0 of 1 processes running; web.0 is crashloop',
    ],
    ['no processes', [], 'fail', 'no process of the active release runs'],
  ] as const)('%s', (_name, processes, outcome, detail) => {
    expect(processVerdict({ scaledToZero: false, processes }, now, 15_000)).toEqual({ outcome, detail });
  });
  it('a stage scaled to zero on purpose is ok', () => {
    expect(processVerdict({ scaledToZero: true, processes: [] }, now, 15_000).outcome).toBe('ok');
  });
});

describe('disk space and the files quota', () => {
  const gib = 1024 ** 3;
  const volume = (freeGiB: number) => ({ label: 'data', freeBytes: freeGiB * gib, totalBytes: 100 * gib });
  it.each([
    [50, null, 'ok'],
    [9, null, 'degraded'],
    [4, null, 'fail'],
    [50, { usedBytes: 95, quotaBytes: 100 }, 'degraded'],
    [50, { usedBytes: 100, quotaBytes: 100 }, 'fail'],
    [9, { usedBytes: 100, quotaBytes: 100 }, 'fail'],
  ] as const)('%s GiB of 100 free, quota %j: %s', (free, quota, outcome) => {
    expect(diskVerdict([volume(free)], quota).outcome).toBe(outcome);
  });
  it('says how much is free', () => {
    expect(diskVerdict([volume(9)], { usedBytes: 50, quotaBytes: 100 }).detail).toBe(
      'data: 9 % free (9.0 GiB of 100.0 GiB); files quota: 50 % used',
    );
  });
});

describe('certificate expiry', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');
  const inDays = (days: number) => new Date(now.getTime() + days * 86_400_000).toISOString();
  it.each([
    [[60], 'ok'],
    [[60, 20], 'degraded'],
    [[60, 6], 'fail'],
    [[-1], 'fail'],
  ] as const)('days left %j: %s', (days, outcome) => {
    const seen = days.map((d, i) => ({ host: `h${i}.example`, notAfter: inDays(d) }));
    expect(certificateVerdict(seen, now).outcome).toBe(outcome);
  });
  it('an untrusted certificate fails, naming the host', () => {
    expect(
      certificateVerdict(
        [
          { host: 'a.example', notAfter: inDays(90) },
          { host: 'b.example', error: 'not trusted: SELF_SIGNED_CERT_IN_CHAIN' },
        ],
        now,
      ),
    ).toEqual({
      outcome: 'fail',
      detail: 'a.example: 90 days left; b.example: not trusted: SELF_SIGNED_CERT_IN_CHAIN',
    });
  });
});
