import { describe, expect, it } from 'vitest';
import { keepSince, logLineTime } from '../../src/runtime/log-lines.ts';
import { parseQuota, parseScaleToZero, parseSince } from '../../src/cli/runtime-commands.ts';

describe('the time of a log line', () => {
  const at = Date.parse('2026-05-01T10:00:00.000Z');
  it.each([
    ['{"time":"2026-05-01T10:00:00.000Z","msg":"x"}', at],
    ['{"ts":1777629600}', at],
    ['{"time":1777629600123}', at + 123],
    ['{"level":"info","ts":"2026-05-01T12:00:00+02:00"}', at],
    ['2026-05-01T10:00:00Z listening', at],
    ['[2026-05-01 12:00:00,5+0200] x', at + 500],
    ['2026-05-01T13:00:00+03 x', at],
  ])('%s', (line, expected) => expect(logLineTime(line)).toBe(expected));

  it.each(['listening on 3000', '{"msg":"no time"}', '{"time":"soon"}', '{broken json', '12:00:00 x', ''])(
    'none in %j',
    (line) => expect(logLineTime(line)).toBeUndefined(),
  );

  it('keeps lines at or after since, and lines without a time only without since', () => {
    expect(keepSince('2026-05-01T10:00:00Z a', at)).toBe(true);
    expect(keepSince('2026-05-01T09:59:59Z a', at)).toBe(false);
    expect(keepSince('no time', at)).toBe(false);
    expect(keepSince('no time', undefined)).toBe(true);
  });
});

describe('CLI values', () => {
  it('--since: a duration back from now or an ISO time', () => {
    const now = Date.parse('2026-05-01T10:00:00.000Z');
    expect(parseSince('10m', now)).toBe('2026-05-01T09:50:00.000Z');
    expect(parseSince('2h', now)).toBe('2026-05-01T08:00:00.000Z');
    expect(parseSince('2026-05-01T12:00:00+02:00', now)).toBe('2026-05-01T10:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow(/neither an ISO time/);
    expect(() => parseSince('10 minutes', now)).toThrow();
  });

  it('--files-quota and --scale-to-zero', () => {
    expect(parseQuota('10MB')).toBe(10_000_000);
    expect(parseQuota('1GiB')).toBe(1024 ** 3);
    expect(parseQuota('4096')).toBe(4096);
    expect(parseQuota('off')).toBe('off');
    expect(() => parseQuota('10XB')).toThrow(/not a size/);
    expect(() => parseQuota('0')).toThrow(/at least 1 byte/);
    expect(parseScaleToZero('600')).toBe(600);
    expect(parseScaleToZero('10m')).toBe(600);
    expect(parseScaleToZero('OFF')).toBe('off');
    expect(() => parseScaleToZero('soon')).toThrow(/not a duration/);
  });
});
