import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputError } from '../../src/core/errors.ts';
import { parseInput } from '../../src/core/validation.ts';
import { createTenantSchema } from '../../src/tenants/schemas.ts';

function problem(data: unknown): InputError {
  try {
    parseInput(createTenantSchema, data);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('parseInput', () => {
  it('names an unknown field and lists the accepted ones', () => {
    const error = problem({ slug: 'acme', colour: 'red' });
    expect(error.field).toBe('colour');
    expect(error.message).toContain('unknown field "colour"');
    expect(error.message).toContain('slug, displayName, region, tier, contacts, stages');
  });

  it('names a nested unknown field', () => {
    const error = problem({ slug: 'acme', contacts: [{ name: 'A', email: 'a@example.com', phone: '1' }] });
    expect(error.field).toBe('contacts.0.phone');
    expect(error.message).toContain('name, email, role');
  });

  it('names a missing field', () => {
    const error = problem({});
    expect(error.field).toBe('slug');
    expect(error.message).toContain('required');
  });

  it('names a wrong type with the value given', () => {
    const error = problem({ slug: 42 });
    expect(error.field).toBe('slug');
    expect(error.message).toContain('must be a string, got number "42"');
  });

  it('lists the accepted values of an enum', () => {
    const error = problem({ slug: 'acme', tier: 'gold' });
    expect(error.field).toBe('tier');
    expect(error.message).toContain('"gold" is not accepted; use one of shared, dedicated, ha');
  });

  it('passes a rule message through with its field', () => {
    const error = problem({ slug: 'acme', stages: ['dev', 'Prod'] });
    expect(error.field).toBe('stages.1');
    expect(error.message).toContain('stage name "Prod" is not accepted');
  });

  it('returns parsed data with defaults', () => {
    expect(parseInput(createTenantSchema, { slug: 'acme' })).toEqual({
      slug: 'acme',
      tier: 'shared',
      contacts: [],
    });
  });

  it('bounds long values in messages', () => {
    const error = (() => {
      try {
        parseInput(z.object({ name: z.string().max(5) }).strict(), { name: 'x'.repeat(500) });
      } catch (e) {
        return e as InputError;
      }
      throw new Error('no error');
    })();
    expect(error.message.length).toBeLessThan(200);
  });
});
