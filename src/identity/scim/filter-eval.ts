import type { Filter, FilterValue } from '../directory/index.ts';
import { isObject } from './resources.ts';

/**
 * A filter applied to one element of a multi-valued attribute in memory
 * (PATCH's `emails[type eq "work"]`), with the same comparisons the SQL
 * translation makes: strings without regard to case.
 */
export function matches(filter: Filter, element: unknown): boolean {
  switch (filter.kind) {
    case 'and':
      return matches(filter.left, element) && matches(filter.right, element);
    case 'or':
      return matches(filter.left, element) || matches(filter.right, element);
    case 'not':
      return !matches(filter.filter, element);
    case 'valuePath':
      return false;
    case 'present': {
      const v = read(element, filter.path.attribute, filter.path.sub);
      return v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
    }
    case 'compare':
      return compare(read(element, filter.path.attribute, filter.path.sub), filter.op, filter.value);
  }
}

function read(element: unknown, attribute: string, sub: string | null): unknown {
  // A bare scalar element (`roles: ["a"]`) is its own value.
  if (!isObject(element)) return attribute.toLowerCase() === 'value' && sub === null ? element : undefined;
  const get = (o: Record<string, unknown>, name: string) =>
    Object.entries(o).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  const top = get(element, attribute);
  return sub === null ? top : isObject(top) ? get(top, sub) : undefined;
}

function compare(actual: unknown, op: string, expected: FilterValue): boolean {
  if (op === 'ne') return !compare(actual, 'eq', expected);
  if (actual === undefined || actual === null) return op === 'eq' && expected === null;
  if (typeof actual === 'object') return false;
  if (typeof expected === 'boolean')
    return op === 'eq' && (actual === expected || scalarText(actual).toLowerCase() === String(expected));
  if (typeof expected === 'number' && typeof actual === 'number') {
    return op === 'eq'
      ? actual === expected
      : op === 'gt'
        ? actual > expected
        : op === 'ge'
          ? actual >= expected
          : op === 'lt'
            ? actual < expected
            : op === 'le'
              ? actual <= expected
              : false;
  }
  const a = scalarText(actual).toLowerCase();
  const e = String(expected).toLowerCase();
  switch (op) {
    case 'eq':
      return a === e;
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    case 'gt':
      return a > e;
    case 'ge':
      return a >= e;
    case 'lt':
      return a < e;
    case 'le':
      return a <= e;
    default:
      return false;
  }
}

function scalarText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
