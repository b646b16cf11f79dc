import type { Selectable } from 'kysely';
import { InputError, showValue } from '../../core/errors.ts';
import type { TenantGroupsTable, TenantUsersTable } from '../../store/schema-identity.ts';
import type {
  Attributes,
  DirectoryGroup,
  DirectorySource,
  DirectoryUser,
  GroupFields,
  UserFields,
} from './types.ts';

/** Rows to plain data, and fields to rows, checked before anything is written. */

export function userOf(row: Selectable<TenantUsersTable>): DirectoryUser {
  return {
    id: row.id,
    tenantId: String(row.tenant_id),
    userName: row.user_name,
    externalId: row.external_id,
    email: row.email,
    displayName: row.display_name,
    givenName: row.given_name,
    familyName: row.family_name,
    active: row.active,
    source: row.source as DirectorySource,
    attributes: (row.attributes ?? {}) as Attributes,
    version: row.version,
    lastSignInAt: row.last_sign_in_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function groupOf(row: Selectable<TenantGroupsTable>): DirectoryGroup {
  return {
    id: row.id,
    tenantId: String(row.tenant_id),
    displayName: row.display_name,
    externalId: row.external_id,
    source: row.source as DirectorySource,
    attributes: (row.attributes ?? {}) as Attributes,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isId(value: string): boolean {
  return uuidPattern.test(value);
}

/** Bounds of a stored attributes document: SCIM clients send a few kilobytes at most. */
export const maxAttributesBytes = 64 * 1024;

function text(field: string, value: string | null | undefined, max: number, required = false): string | null {
  if (value === undefined || value === null) {
    if (required)
      throw new InputError(`field "${field}" is required: a string of 1 to ${max} characters`, { field });
    return null;
  }
  if (typeof value !== 'string' || value.length < 1 || value.length > max || /\p{Cc}/u.test(value)) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; a string of 1 to ${max} characters without control characters`,
      { field },
    );
  }
  return value;
}

function attributesJson(field: string, value: Attributes | undefined): string {
  const json = JSON.stringify(value ?? {});
  if (json.length > maxAttributesBytes) {
    throw new InputError(
      `field "${field}": ${json.length} bytes of attributes; at most ${maxAttributesBytes}`,
      {
        field,
      },
    );
  }
  return json;
}

export function userRow(fields: UserFields) {
  const email = text('email', fields.email, 320);
  return {
    user_name: text('userName', fields.userName, 256, true) as string,
    external_id: text('externalId', fields.externalId, 256),
    email: email?.toLowerCase() ?? null,
    display_name: text('displayName', fields.displayName, 1024),
    given_name: text('name.givenName', fields.givenName, 1024),
    family_name: text('name.familyName', fields.familyName, 1024),
    active: fields.active ?? true,
    attributes: attributesJson('attributes', fields.attributes),
  };
}

export function groupRow(fields: GroupFields) {
  return {
    display_name: text('displayName', fields.displayName, 256, true) as string,
    external_id: text('externalId', fields.externalId, 256),
    attributes: attributesJson('attributes', fields.attributes),
  };
}
