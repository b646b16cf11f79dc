import { z } from 'zod';
import { InputError, showValue } from './errors.ts';

/**
 * Parses input at the edge. The first problem becomes an InputError that
 * names the field, the value, and what would be accepted.
 */
export function parseInput<S extends z.ZodType>(schema: S, data: unknown, where = 'body'): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  throw toInputError(result.error, schema, where);
}

export function toInputError(error: z.ZodError, schema: z.ZodType, where = 'body'): InputError {
  const issue = error.issues[0];
  if (!issue) return new InputError(`${where} is not valid`);
  const path = issue.path.map(String);
  // A problem with the input as a whole (a body that is an array, say) is about the body itself.
  const field = path.join('.') || where;
  const named = path.length > 0 ? `field "${field}"` : where;
  const input = (issue as { input?: unknown }).input;
  let message: string;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0] ?? '';
      const unknownField = [...path, key].join('.');
      const accepted = acceptedKeys(schema, path);
      return new InputError(
        `unknown field "${unknownField}" in ${where}${accepted.length ? `; accepted fields are: ${accepted.join(', ')}` : ''}`,
        { field: unknownField },
      );
    }
    case 'invalid_type':
      message =
        input === undefined
          ? `${named} is required (${issue.expected})`
          : `${named} must be ${article(issue.expected)}, got ${describe(input)}`;
      break;
    case 'too_big':
      message = `${named} ${showValue(input)} is too long or too large: at most ${String(issue.maximum)}${issue.origin === 'string' ? ' characters' : ''}`;
      break;
    case 'too_small':
      message = `${named} ${showValue(input)} is too short or too small: at least ${String(issue.minimum)}${issue.origin === 'string' ? ' characters' : ''}`;
      break;
    case 'invalid_value':
      message = `${named}: ${showValue(input)} is not accepted; use one of ${issue.values.map((v) => String(v)).join(', ')}`;
      break;
    case 'invalid_format':
      message = `${named}: ${showValue(input)} is not a valid ${issue.format}`;
      break;
    default:
      // Custom checks already say what is wrong and what is accepted.
      message = issue.message.startsWith('field') ? issue.message : `${named}: ${issue.message}`;
  }
  return new InputError(message, { field });
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${showValue(value)}`;
}

function acceptedKeys(schema: z.ZodType, path: readonly string[]): string[] {
  let current: unknown = schema;
  for (const segment of path) {
    const shape = objectShape(current);
    if (shape && segment in shape) {
      current = shape[segment];
    } else if (current instanceof z.ZodArray) {
      current = current.element;
    } else {
      return [];
    }
    current = unwrap(current);
  }
  const shape = objectShape(unwrap(current));
  return shape ? Object.keys(shape) : [];
}

function objectShape(schema: unknown): Record<string, unknown> | undefined {
  return schema instanceof z.ZodObject ? schema.shape : undefined;
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodDefault ||
    current instanceof z.ZodNullable
  ) {
    current = current.unwrap();
  }
  return current;
}

/** A zod string check backed by one of our rule functions, which return a message or undefined. */
export function ruled(rule: (value: string) => string | undefined): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    const problem = rule(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
  });
}
