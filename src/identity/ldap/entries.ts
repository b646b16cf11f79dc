import type { AttributeMap } from './settings.ts';

/**
 * LDAP entries as the search returns them, read into directory users and
 * groups by an attribute map. Pure: the planner's input is built here. An
 * entry that cannot be read (no userName, no stable id, a value too long for
 * the directory) is skipped with a reason, never guessed at.
 */
export type RawValue = string | readonly string[] | Buffer | readonly Buffer[];
export interface RawEntry {
  readonly dn: string;
  readonly [attribute: string]: RawValue;
}

export interface LdapUser {
  readonly dn: string;
  readonly userName: string;
  readonly externalId: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly givenName: string | null;
  readonly familyName: string | null;
  /** Disabled in the directory (Active Directory's ACCOUNTDISABLE): deactivated, not created. */
  readonly disabled: boolean;
}

export interface LdapGroup {
  readonly dn: string;
  readonly displayName: string;
  readonly externalId: string;
  /** The member attribute's values: DNs (member, uniqueMember) or user names (memberUid). */
  readonly members: readonly string[];
}

export interface SkippedEntry {
  readonly dn: string;
  readonly reason: string;
}

export type Read<T> =
  { readonly kind: 'ok'; readonly value: T } | { readonly kind: 'skipped'; readonly skipped: SkippedEntry };

/** The directory's bounds (migration 0028): longer values are refused, not cut. */
const maxName = 256;
const maxEmail = 320;
const maxText = 1024;
/** Active Directory's userAccountControl ACCOUNTDISABLE flag. */
const accountDisable = 0x2;

/** An attribute's values, found without regard to case (LDAP attribute names are case-insensitive). */
function valuesOf(entry: RawEntry, attribute: string): readonly (string | Buffer)[] {
  const wanted = attribute.toLowerCase();
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn' || name.toLowerCase() !== wanted) continue;
    if (Array.isArray(value)) return value as readonly (string | Buffer)[];
    return [value as string | Buffer];
  }
  return [];
}

function text(entry: RawEntry, attribute: string): string | null {
  const first = valuesOf(entry, attribute)[0];
  if (first === undefined) return null;
  const value = (typeof first === 'string' ? first : first.toString('utf8')).trim();
  return value === '' ? null : value;
}

/** Active Directory's objectGUID (16 bytes, the first three fields little-endian) as a GUID string. */
export function guidOf(bytes: Buffer): string {
  if (bytes.length !== 16) return bytes.toString('hex');
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = [...bytes.subarray(from, to)];
    return Buffer.from(reverse ? part.reverse() : part).toString('hex');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}

function externalIdOf(entry: RawEntry, attribute: string): string | null {
  const first = valuesOf(entry, attribute)[0];
  if (first === undefined) return null;
  if (Buffer.isBuffer(first)) return guidOf(first);
  const value = first.trim();
  return value === '' ? null : value.toLowerCase();
}

function tooLong(dn: string, field: string, value: string | null, max: number): SkippedEntry | undefined {
  if (value === null || value.length <= max) return undefined;
  return {
    dn,
    reason: `its ${field} is ${value.length} characters long; the directory keeps at most ${max}`,
  };
}

export function readUser(entry: RawEntry, map: AttributeMap): Read<LdapUser> {
  const dn = entry.dn;
  const userName = text(entry, map.userName);
  if (userName === null) return skip(dn, `it has no ${map.userName} (the userName attribute)`);
  const externalId = externalIdOf(entry, map.externalId);
  if (externalId === null) return skip(dn, `it has no ${map.externalId} (the stable id attribute)`);
  const email = text(entry, map.email)?.toLowerCase() ?? null;
  const user: LdapUser = {
    dn,
    userName,
    externalId,
    email,
    displayName: text(entry, map.displayName),
    givenName: text(entry, map.givenName),
    familyName: text(entry, map.familyName),
    disabled: map.accountControl === null ? false : disabledBy(text(entry, map.accountControl)),
  };
  const problem =
    tooLong(dn, 'userName', user.userName, maxName) ??
    tooLong(dn, 'externalId', user.externalId, maxName) ??
    tooLong(dn, 'email', user.email, maxEmail) ??
    tooLong(dn, 'displayName', user.displayName, maxText) ??
    tooLong(dn, 'givenName', user.givenName, maxText) ??
    tooLong(dn, 'familyName', user.familyName, maxText);
  return problem ? { kind: 'skipped', skipped: problem } : { kind: 'ok', value: user };
}

function disabledBy(accountControl: string | null): boolean {
  if (accountControl === null || !/^-?\d+$/.test(accountControl)) return false;
  // A 32-bit flag word (AD may show it signed).
  return (Number(accountControl) & accountDisable) !== 0;
}

export function readGroup(entry: RawEntry, map: AttributeMap, memberAttribute: string): Read<LdapGroup> {
  const dn = entry.dn;
  const displayName = text(entry, map.groupName);
  if (displayName === null) return skip(dn, `it has no ${map.groupName} (the group name attribute)`);
  const externalId = externalIdOf(entry, map.groupExternalId);
  if (externalId === null) return skip(dn, `it has no ${map.groupExternalId} (the stable id attribute)`);
  const problem =
    tooLong(dn, 'displayName', displayName, maxName) ?? tooLong(dn, 'externalId', externalId, maxName);
  if (problem) return { kind: 'skipped', skipped: problem };
  const members = valuesOf(entry, memberAttribute)
    .map((v) => (typeof v === 'string' ? v : v.toString('utf8')).trim())
    .filter((v) => v !== '');
  return { kind: 'ok', value: { dn, displayName, externalId, members } };
}

function skip<T>(dn: string, reason: string): Read<T> {
  return { kind: 'skipped', skipped: { dn, reason } };
}

/**
 * A DN in a form that compares equal however the server spelled it: lower
 * case, no spaces around the separators. (Enough for the DNs one server
 * returns about its own entries; not a full RFC 4514 normaliser.)
 */
export function normalDn(dn: string): string {
  return dn
    .split(/(?<!\\),/)
    .map((rdn) =>
      rdn
        .split(/(?<!\\)=/)
        .map((part) => part.trim())
        .join('='),
    )
    .join(',')
    .toLowerCase();
}
