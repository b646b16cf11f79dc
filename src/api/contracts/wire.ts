import type { z } from 'zod';

/** A value as JSON carries it: dates become ISO strings, nothing is readonly. */
export type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer E)[]
    ? Wire<E>[]
    : T extends object
      ? { -readonly [K in keyof T]: Wire<T[K]> }
      : T;

/**
 * Whether a service's view, serialised, is what a contract describes: a
 * compile-time check that keeps a contract and the type its handler returns
 * together: `export type Checked = [Expect<Conforms<TenantView, typeof tenantSchema>>]`.
 */
export type Conforms<View, Schema extends z.ZodType> = [Wire<View>] extends [z.output<Schema>] ? true : false;

/** Fails to compile unless given `true`. */
export type Expect<T extends true> = T;
