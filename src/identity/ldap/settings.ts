import { X509Certificate } from 'node:crypto';
import { FilterParser } from 'ldapts';
import { z } from 'zod';

/**
 * A tenant's LDAP directory as Steward reads it: where (URL, CA, bind DN,
 * base DN), which entries (filters) and how to read them (the attribute map,
 * from a preset with overrides). Parsed once, here, at the edge; the bind
 * password is a secret and travels separately.
 */
export const ldapPresets = ['openldap', 'active-directory'] as const;
export type LdapPreset = (typeof ldapPresets)[number];

/** Which LDAP attribute gives each field of a directory user or group. */
export interface AttributeMap {
  readonly userName: string;
  /** A stable id that survives renames: entryUUID (OpenLDAP), objectGUID (Active Directory). */
  readonly externalId: string;
  readonly email: string;
  readonly displayName: string;
  readonly givenName: string;
  readonly familyName: string;
  readonly groupName: string;
  readonly groupExternalId: string;
  /** Active Directory's userAccountControl: bit 2 (ACCOUNTDISABLE) marks a disabled account. */
  readonly accountControl: string | null;
}
export const attributeFields = [
  'userName',
  'externalId',
  'email',
  'displayName',
  'givenName',
  'familyName',
  'groupName',
  'groupExternalId',
  'accountControl',
] as const satisfies readonly (keyof AttributeMap)[];

export interface PresetDefaults {
  readonly attributes: AttributeMap;
  readonly userFilter: string;
  readonly groupFilter: string;
  readonly memberAttribute: string;
}

export const presets: Readonly<Record<LdapPreset, PresetDefaults>> = {
  openldap: {
    attributes: {
      userName: 'uid',
      externalId: 'entryUUID',
      email: 'mail',
      displayName: 'cn',
      givenName: 'givenName',
      familyName: 'sn',
      groupName: 'cn',
      groupExternalId: 'entryUUID',
      accountControl: null,
    },
    userFilter: '(objectClass=inetOrgPerson)',
    groupFilter: '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))',
    memberAttribute: 'member',
  },
  'active-directory': {
    attributes: {
      userName: 'sAMAccountName',
      externalId: 'objectGUID',
      email: 'mail',
      displayName: 'displayName',
      givenName: 'givenName',
      familyName: 'sn',
      groupName: 'cn',
      groupExternalId: 'objectGUID',
      accountControl: 'userAccountControl',
    },
    userFilter: '(&(objectCategory=person)(objectClass=user))',
    groupFilter: '(objectClass=group)',
    memberAttribute: 'member',
  },
};

/** Attributes that hold binary values (AD's GUIDs): read as bytes, shown as a GUID. */
export const binaryAttributes = ['objectGUID'] as const;

/** Scheduled syncs: between 5 minutes and a week apart. */
export const minEverySeconds = 300;
export const maxEverySeconds = 7 * 86_400;
/** Without --every: hourly, so that people who leave are deactivated within the hour. */
export const defaultEverySeconds = 3600;

/** A resolved directory: what the sync needs, with the preset applied. */
export interface LdapSettings {
  readonly url: string;
  readonly caPem: string | null;
  readonly bindDn: string;
  readonly baseDn: string;
  readonly userFilter: string;
  readonly preset: LdapPreset;
  readonly attributes: AttributeMap;
  /** null: groups are not synced. */
  readonly groupBaseDn: string | null;
  readonly groupFilter: string;
  readonly memberAttribute: string;
  /** null: on demand only. */
  readonly everySeconds: number | null;
}

const attributeName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9-]{0,63}$/,
    'must be an LDAP attribute name (letters, digits, hyphens), such as mail',
  );

const dn = z.string().trim().min(1).max(1024);

const filter = z
  .string()
  .trim()
  .min(3)
  .max(4096)
  .refine(
    (value) => {
      try {
        FilterParser.parseString(value);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'is not an LDAP search filter (RFC 4515), such as (objectClass=inetOrgPerson)' },
  );

const url = z
  .string()
  .trim()
  .max(512)
  .refine(
    (value) => {
      try {
        const parsed = new URL(value);
        return (
          (parsed.protocol === 'ldap:' || parsed.protocol === 'ldaps:') &&
          parsed.hostname !== '' &&
          (parsed.pathname === '' || parsed.pathname === '/') &&
          parsed.search === '' &&
          parsed.username === '' &&
          parsed.password === ''
        );
      } catch {
        return false;
      }
    },
    {
      message:
        'must be ldaps://host[:port] (TLS) or ldap://host[:port] (upgraded with StartTLS), without a path or credentials',
    },
  );

const caPem = z
  .string()
  .max(64 * 1024)
  .refine(
    (value) => {
      try {
        new X509Certificate(value);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'is not a PEM certificate (-----BEGIN CERTIFICATE-----)' },
  );

/** `15m`, `1h`, `1d` (or `off`): seconds between scheduled syncs. */
export function parseEvery(value: string): number | null | undefined {
  if (value.trim() === 'off') return null;
  const match = /^(\d{1,5})(m|h|d)$/.exec(value.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * { m: 60, h: 3600, d: 86_400 }[match[2] as 'm' | 'h' | 'd'];
  return seconds >= minEverySeconds && seconds <= maxEverySeconds ? seconds : undefined;
}

const every = z.string().refine((value) => parseEvery(value) !== undefined, {
  message: 'must be a duration from 5m to 7d (such as 15m, 1h, 1d) or off',
});

/** The body of `PUT /api/v1/tenants/:tenant/directory`. */
export const setDirectorySchema = z
  .object({
    url,
    /** Required the first time; kept when omitted later. */
    bindPassword: z.string().min(1).max(1024).optional(),
    bindDn: dn,
    baseDn: dn,
    preset: z.enum(ldapPresets).default('openldap'),
    caPem: caPem.nullable().optional(),
    userFilter: filter.optional(),
    attributes: z
      .object(Object.fromEntries(attributeFields.map((f) => [f, attributeName.optional()])))
      .strict()
      .optional(),
    groupBaseDn: dn.nullable().optional(),
    groupFilter: filter.optional(),
    memberAttribute: attributeName.optional(),
    every: every.optional(),
  })
  .strict();
export type SetDirectoryInput = z.output<typeof setDirectorySchema>;

/** The settings a request asks for: the preset's defaults where it says nothing. */
export function resolveSettings(input: SetDirectoryInput): LdapSettings {
  const preset = presets[input.preset];
  const overrides = Object.fromEntries(
    Object.entries(input.attributes ?? {}).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  return {
    url: input.url.replace(/\/$/, ''),
    caPem: input.caPem ?? null,
    bindDn: input.bindDn,
    baseDn: input.baseDn,
    userFilter: input.userFilter ?? preset.userFilter,
    preset: input.preset,
    attributes: { ...preset.attributes, ...overrides },
    groupBaseDn: input.groupBaseDn ?? null,
    groupFilter: input.groupFilter ?? preset.groupFilter,
    memberAttribute: input.memberAttribute ?? preset.memberAttribute,
    everySeconds: input.every === undefined ? defaultEverySeconds : (parseEvery(input.every) ?? null),
  };
}
