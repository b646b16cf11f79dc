import { describe, expect, it } from 'vitest';
import { itemsOf } from '../../src/api/client/typed.ts';

describe('the typed client reads a list page', () => {
  it('from a bare array or the one array of a body that keeps its shape', () => {
    expect(itemsOf([1, 2])).toEqual([1, 2]);
    expect(itemsOf({ alerts: [{ id: '1' }] })).toEqual([{ id: '1' }]);
    expect(itemsOf({ events: ['a'], nextBefore: null })).toEqual(['a']);
    // Not a list: no rows rather than a guess.
    expect(itemsOf({ a: [1], b: [2] })).toEqual([]);
    expect(itemsOf({ status: 'ok' })).toEqual([]);
    expect(itemsOf(undefined)).toEqual([]);
  });
});
