import { describe, expect, it } from 'vitest';
import { expiredExports, type RetainedExport } from '../../src/backups/logical/retention.ts';

const now = new Date('2026-03-31T12:00:00Z');
const daysAgo = (d: number): Date => new Date(now.getTime() - d * 24 * 60 * 60 * 1000);
const e = (id: string, stage: string, status: RetainedExport['status'], age: number): RetainedExport => ({
  id,
  stage,
  status,
  createdAt: daysAgo(age),
});

describe('expiredExports', () => {
  it.each([
    { name: 'nothing', exports: [], days: 30, expired: [] },
    {
      name: 'young exports stay',
      exports: [e('a', 's', 'succeeded', 1), e('b', 's', 'succeeded', 29)],
      days: 30,
      expired: [],
    },
    {
      name: 'old ones go, the newest good one stays',
      exports: [e('a', 's', 'succeeded', 40), e('b', 's', 'succeeded', 35), e('c', 's', 'succeeded', 2)],
      days: 30,
      expired: ['a', 'b'],
    },
    {
      name: 'the last good export of a stage stays however old',
      exports: [e('a', 's', 'succeeded', 90), e('b', 's', 'failed', 10)],
      days: 30,
      expired: [],
    },
    {
      name: 'old failed exports go even when nothing newer exists',
      exports: [e('a', 's', 'failed', 31), e('b', 's', 'succeeded', 60)],
      days: 30,
      expired: ['a'],
    },
    {
      name: 'running exports are never touched',
      exports: [e('a', 's', 'running', 100)],
      days: 30,
      expired: [],
    },
    {
      name: 'stages are counted apart',
      exports: [e('a', 'x', 'succeeded', 50), e('b', 'y', 'succeeded', 50), e('c', 'x', 'succeeded', 40)],
      days: 30,
      expired: ['a'],
    },
    { name: 'exactly at the edge stays', exports: [e('a', 's', 'failed', 7)], days: 7, expired: [] },
  ])('$name', ({ exports, days, expired }) => {
    expect(expiredExports(exports, now, days)).toEqual(expired);
  });

  it('refuses a retention below one day', () => {
    expect(() => expiredExports([], now, 0)).toThrow(/retainDays/);
  });
});
