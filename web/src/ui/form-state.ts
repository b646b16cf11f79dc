import { useState } from 'react';
import type { ConsoleApi } from '../app/api.ts';
import { useMutation, type MutationResult } from '../app/query.ts';

type Values = { readonly [key: string]: string | boolean };
type TextKey<V> = { [K in keyof V]: V[K] extends string ? K : never }[keyof V] & string;
type FlagKey<V> = { [K in keyof V]: V[K] extends boolean ? K : never }[keyof V] & string;

/**
 * A form's text values and the props that bind a TextField or SelectField to
 * one of them: `field('tenant')` gives its name (the API's field, or the one
 * given, so the API's message lands under it), value and onValue.
 */
export function useFormValues<T extends { readonly [K in keyof T]: string }>(initial: T | (() => T)) {
  const [values, setValues] = useState<T>(initial);
  const field = (key: keyof T & string, name: string = key) => ({
    name,
    value: values[key],
    onValue: (value: string) => setValues((previous) => ({ ...previous, [key]: value })),
  });
  const reset = () => setValues(initial);
  return { values, field, reset };
}

export interface FormState<V extends Values, O> extends MutationResult<V, O> {
  readonly values: V;
  /** A TextField's or SelectField's props: the name the API's error names, the value, onValue. */
  readonly field: (
    key: TextKey<V>,
    name?: string,
  ) => { name: string; value: string; onValue: (v: string) => void };
  /** A CheckField's props. */
  readonly check: (key: FlagKey<V>) => { name: string; checked: boolean; onChecked: (v: boolean) => void };
  /** A Form's props: it sends the values, and shows the API's error under the field it names. */
  readonly form: { readonly onSubmit: () => Promise<O | undefined>; readonly error: unknown };
}

/**
 * A form that sends its values through one API call: the values (as the
 * fields hold them, text the API parses, so its message names the field and
 * the value as typed), the call's state, and the props that bind fields and
 * the Form. After a success the values start over, but for those in `keep`.
 */
export function useFormState<V extends Values, O>(
  initial: V | (() => V),
  run: (api: ConsoleApi, values: V) => Promise<O>,
  options: { readonly onSuccess?: (answer: O, values: V) => void; readonly keep?: readonly (keyof V)[] } = {},
): FormState<V, O> {
  const [values, setValues] = useState<V>(initial);
  const mutation = useMutation(run, {
    onSuccess: (answer, sent) => {
      setValues((previous) => {
        const next = typeof initial === 'function' ? initial() : { ...initial };
        for (const key of options.keep ?? []) next[key] = previous[key];
        return next;
      });
      options.onSuccess?.(answer, sent);
    },
  });
  const set = (key: keyof V, value: string | boolean) =>
    setValues((previous) => ({ ...previous, [key]: value }));
  return {
    ...mutation,
    values,
    field: (key, name = key) => ({ name, value: values[key] as string, onValue: (value) => set(key, value) }),
    check: (key) => ({ name: key, checked: values[key] as boolean, onChecked: (value) => set(key, value) }),
    form: { onSubmit: () => mutation.mutate(values), error: mutation.error },
  };
}

/**
 * A number field's text as the API's number, undefined when empty. Text that
 * is no number goes as typed (typed as a number only to fit the body), so
 * the API's message names the field and the value given.
 */
export function numberOrTyped(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return (Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed) as number;
}
