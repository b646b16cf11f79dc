import { InputError, showValue } from '../core/errors.ts';

/** Checks of what people and other modules hand the alert service: each names the field, the value and what is accepted. */

/** Required text of 1 to `max` characters (not only blanks). */
export function checkText(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw new InputError(
      `field "${field}": ${showValue(value ?? null)} is not accepted; ${field} is required: 1 to ${max} characters`,
      { field },
    );
  }
  return value.trim();
}

export function checkOneOf<T extends string>(field: string, value: unknown, accepted: readonly T[]): T {
  if (!accepted.includes(value as T)) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; use one of ${accepted.join(', ')}`,
      { field },
    );
  }
  return value as T;
}

/** An id of an alert, a silence or a maintenance window: its number. */
export function checkId(id: string, what: string): string {
  if (!/^\d{1,18}$/.test(id)) {
    throw new InputError(`field "id": ${showValue(id)} is not ${what} id; use its number, e.g. 42`, {
      field: 'id',
    });
  }
  return id;
}
