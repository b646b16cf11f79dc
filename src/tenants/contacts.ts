import type { z } from 'zod';
import { contactSchema } from './schemas.ts';

/**
 * A tenant's contacts: who hears of planned maintenance (technical), of
 * security incidents (security), of bills. Pure: the tenant service stores
 * the list the functions here return.
 */
export type Contact = z.output<typeof contactSchema>;
export const contactRoles = contactSchema.shape.role.unwrap().options;
export type ContactRole = Contact['role'];

/** What is stored: anything else (older rows) is left out rather than trusted. */
export function storedContacts(value: unknown): Contact[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((c) => {
    const parsed = contactSchema.safeParse(c);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Adds a contact, or changes the one with its email address (compared without case). */
export function withContact(contacts: readonly Contact[], contact: Contact): Contact[] {
  const same = (c: Contact): boolean => c.email.toLowerCase() === contact.email.toLowerCase();
  return contacts.some(same) ? contacts.map((c) => (same(c) ? contact : c)) : [...contacts, contact];
}

export function withoutContact(contacts: readonly Contact[], email: string): Contact[] {
  return contacts.filter((c) => c.email.toLowerCase() !== email.toLowerCase());
}

/** Who is told of planned maintenance: the technical contacts, or every contact when none is technical. */
export function maintenanceContacts(contacts: readonly Contact[]): Contact[] {
  const technical = contacts.filter((c) => c.role === 'technical');
  return technical.length > 0 ? technical : [...contacts];
}
