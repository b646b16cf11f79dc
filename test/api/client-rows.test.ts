import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/api/client/typed.ts';

describe('the typed client reads a list page', () => {
  it('from a bare array or the one array of a body that keeps its shape', () => {
    expect(rowsOf([1, 2])).toEqual([1, 2]);
    expect(rowsOf({ alerts: [{ id: '1' }] })).toEqual([{ id: '1' }]);
    expect(rowsOf({ events: ['a'], nextBefore: null })).toEqual(['a']);
    // Not a list: no rows rather than a guess.
    expect(rowsOf({ a: [1], b: [2] })).toEqual([]);
    expect(rowsOf({ status: 'ok' })).toEqual([]);
    expect(rowsOf(undefined)).toEqual([]);
  });
});
