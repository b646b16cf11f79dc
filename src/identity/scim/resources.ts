import { InputError, showValue } from '../../core/errors.ts';
import type {
  DirectoryGroup,
  DirectoryUser,
  GroupFields,
  GroupMember,
  GroupRef,
  UserFields,
} from '../directory/index.ts';
import {
  canonicalSchema,
  definitions,
  enterpriseSchema,
  groupSchema,
  lookup,
  userSchema,
  type AttributeDef,
  type ResourceKind,
} from './schema.ts';

/**
 * Users and groups as SCIM resources (RFC 7643) and back: pure functions.
 * A user's columns hold what Steward reads itself (userName, externalId,
 * displayName, active, the name's given and family parts, the e-mail
 * address that joins OIDC sign-ins); everything else the client sent is
 * kept as sent, under canonical attribute names, in `attributes`.
 *
 * Joining SCIM users to OIDC sign-ins (id-oidc): the IdP's
 * `preferred_username` (Entra: `upn`; else `email`) is matched to the
 * user's userName without regard to case, and the provisioning app is set
 * up to send that same value as userName (Entra's default mapping:
 * userPrincipalName -> userName; Okta's: login -> userName).
 */
export type Doc = Record<string, unknown>;

/** Kept in columns or computed: never stored in `attributes`. */
const notStored = new Set([
  'id',
  'meta',
  'schemas',
  'groups',
  'password',
  'userName',
  'externalId',
  'active',
  'displayName',
]);

export function isObject(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `true`/`false` as Entra sends them ("True", "False"), for a boolean attribute. */
export function coerceBoolean(value: unknown): unknown {
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return value;
}

/** A value for an attribute, in the shape its definition asks for (a list for multi-valued, booleans as booleans). */
export function shapeValue(def: AttributeDef | undefined, value: unknown, field: string): unknown {
  if (!def) return value;
  if (def.multiValued) {
    const list = Array.isArray(value) ? value : value === null ? [] : [value];
    return list.map((item) => shapeSingle({ ...def, multiValued: false }, item, field));
  }
  return shapeSingle(def, value, field);
}

function shapeSingle(def: AttributeDef, value: unknown, field: string): unknown {
  if (value === null) return null;
  if (def.type === 'boolean') {
    const b = coerceBoolean(value);
    if (typeof b !== 'boolean') throw invalid(field, value, 'true or false');
    return b;
  }
  if (def.type === 'complex') {
    // Entra sends the manager (and some clients a multi-valued element) as its bare value.
    if (!isObject(value)) {
      if (typeof value === 'string' || typeof value === 'number') return { value: String(value) };
      throw invalid(field, value, 'an object');
    }
    const out: Doc = {};
    for (const [key, v] of Object.entries(value)) {
      const sub = lookup(def.subAttributes, key);
      out[sub?.name ?? key] = sub ? shapeSingle(sub, v, `${field}.${sub.name}`) : v;
    }
    return out;
  }
  if (typeof value === 'number' && def.type === 'string') return String(value);
  if (typeof value !== 'string' && def.type !== 'integer') throw invalid(field, value, 'a string');
  return value;
}

export function invalid(field: string, value: unknown, accepted: string): InputError {
  return new InputError(`field "${field}": ${showValue(value)} is not accepted; ${accepted}`, { field });
}

/**
 * A resource as a client sent it, with canonical attribute names, extension
 * URNs spelled canonically, and values shaped by their definitions.
 */
export function canonical(kind: ResourceKind, body: Doc): Doc {
  const out: Doc = {};
  for (const [key, value] of Object.entries(body)) {
    if (/^urn:/i.test(key)) {
      const urn = canonicalSchema(key);
      if (urn === userSchema || urn === groupSchema) {
        if (isObject(value)) Object.assign(out, canonical(kind, value));
        continue;
      }
      if (!isObject(value)) throw invalid(key, value, "an object of the extension's attributes");
      const defs = definitions(kind, urn);
      const ext: Doc = {};
      for (const [k, v] of Object.entries(value)) {
        const def = lookup(defs, k);
        ext[def?.name ?? k] = shapeValue(def, v, `${urn}:${def?.name ?? k}`);
      }
      out[urn] = ext;
      continue;
    }
    const def = lookup(definitions(kind, null), key);
    if (!def && key.toLowerCase() !== 'schemas' && key.toLowerCase() !== 'meta') {
      throw new InputError(
        `field ${showValue(key)}: the ${kind} schema has no such attribute ("/Schemas" lists them)`,
        {
          field: key,
        },
      );
    }
    const name = def?.name ?? key.toLowerCase();
    out[name] = def ? shapeValue(def, value, name) : value;
  }
  return out;
}

function optionalString(doc: Doc, field: string): string | null {
  const value = doc[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(field, value, 'a string');
  return value;
}

/** The address that joins sign-ins: the primary e-mail, else the work one, else the first. */
export function primaryEmail(emails: unknown): string | null {
  if (!Array.isArray(emails)) return null;
  const list = emails.filter(isObject).filter((e) => typeof e.value === 'string' && e.value !== '');
  const pick =
    list.find((e) => e.primary === true) ??
    list.find((e) => String(e.type).toLowerCase() === 'work') ??
    list[0];
  return (pick?.value as string | undefined) ?? null;
}

/** A canonical User resource to the Directory's fields (a whole replacement: what is absent is cleared). */
export function userFields(doc: Doc): UserFields {
  const userName = doc.userName;
  if (typeof userName !== 'string' || userName.trim() === '') {
    throw invalid('userName', userName, 'a non-empty string (required)');
  }
  const name = isObject(doc.name) ? doc.name : {};
  const attributes: Doc = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!notStored.has(key) && value !== null) attributes[key] = value;
  }
  const active = doc.active === undefined || doc.active === null ? true : doc.active;
  if (typeof active !== 'boolean') throw invalid('active', active, 'true or false');
  return {
    userName,
    externalId: optionalString(doc, 'externalId'),
    displayName: optionalString(doc, 'displayName'),
    givenName: typeof name.givenName === 'string' ? name.givenName : null,
    familyName: typeof name.familyName === 'string' ? name.familyName : null,
    email: primaryEmail(doc.emails),
    active,
    attributes,
  };
}

export function etag(version: number): string {
  return `W/"${version}"`;
}

/** The user as a canonical resource without meta and groups: what PATCH starts from. */
export function userDoc(user: DirectoryUser): Doc {
  const doc: Doc = { id: user.id, userName: user.userName };
  if (user.externalId !== null) doc.externalId = user.externalId;
  const attributes = { ...user.attributes };
  const name: Doc = isObject(attributes.name) ? { ...attributes.name } : {};
  if (user.givenName !== null) name.givenName = user.givenName;
  else delete name.givenName;
  if (user.familyName !== null) name.familyName = user.familyName;
  else delete name.familyName;
  delete attributes.name;
  if (Object.keys(name).length > 0) doc.name = name;
  if (user.displayName !== null) doc.displayName = user.displayName;
  doc.active = user.active;
  // A user another module made (LDAP, a first OIDC sign-in) has its address in the column only.
  if (attributes.emails === undefined && user.email !== null) {
    attributes.emails = [{ value: user.email, type: 'work', primary: true }];
  }
  return { ...doc, ...attributes };
}

/** The full User resource, as GET returns it. */
export function userResource(user: DirectoryUser, groups: readonly GroupRef[], base: string): Doc {
  const doc = userDoc(user);
  const extensions = Object.keys(doc).filter((k) => /^urn:/i.test(k));
  return {
    schemas: [
      userSchema,
      ...extensions.sort((a, b) => (a === enterpriseSchema ? -1 : b === enterpriseSchema ? 1 : 0)),
    ],
    ...doc,
    groups: groups.map((g) => ({ value: g.id, $ref: `${base}/Groups/${g.id}`, display: g.displayName })),
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: user.updatedAt.toISOString(),
      version: etag(user.version),
      location: `${base}/Users/${user.id}`,
    },
  };
}

export function groupFields(doc: Doc): GroupFields {
  const displayName = doc.displayName;
  if (typeof displayName !== 'string' || displayName.trim() === '') {
    throw invalid('displayName', displayName, 'a non-empty string (required)');
  }
  const attributes: Doc = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!['id', 'meta', 'schemas', 'displayName', 'externalId', 'members'].includes(key) && value !== null) {
      attributes[key] = value;
    }
  }
  return { displayName, externalId: optionalString(doc, 'externalId'), attributes };
}

/** The user ids of a `members` value: `[{ "value": id }, ...]` (a bare id string is taken too). */
export function memberIdsOf(value: unknown, field = 'members'): string[] {
  const list: unknown[] = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list.map((item) => {
    const id = isObject(item) ? item.value : item;
    if (typeof id !== 'string' || id === '')
      throw invalid(field, item, 'members like [{ "value": "<user id>" }]');
    return id;
  });
}

export function groupResource(
  group: DirectoryGroup,
  members: readonly GroupMember[] | null,
  base: string,
): Doc {
  return {
    schemas: [groupSchema],
    id: group.id,
    ...(group.externalId !== null ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    ...group.attributes,
    ...(members
      ? {
          members: members.map((m) => ({
            value: m.userId,
            $ref: `${base}/Users/${m.userId}`,
            display: m.displayName ?? m.userName,
            type: 'User',
          })),
        }
      : {}),
    meta: {
      resourceType: 'Group',
      created: group.createdAt.toISOString(),
      lastModified: group.updatedAt.toISOString(),
      version: etag(group.version),
      location: `${base}/Groups/${group.id}`,
    },
  };
}

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): trims a resource.
 * id, schemas and meta are always returned; names are case-insensitive and
 * may be `name.givenName` or prefixed with an extension URN.
 */
export function project(doc: Doc, attributes: readonly string[], excluded: readonly string[]): Doc {
  const always = new Set(['id', 'schemas', 'meta']);
  const split = (path: string): [string | null, string, string | null] => {
    // A whole extension: `attributes=urn:…:enterprise:2.0:User`.
    if (Object.keys(doc).some((k) => /^urn:/i.test(k) && k.toLowerCase() === path.toLowerCase())) {
      return [null, path.toLowerCase(), null];
    }
    let schema: string | null = null;
    let rest = path;
    if (/^urn:/i.test(path)) {
      const colon = path.lastIndexOf(':');
      schema = canonicalSchema(path.slice(0, colon));
      rest = path.slice(colon + 1);
      if (schema === userSchema || schema === groupSchema) schema = null;
    }
    const [top = '', sub = null] = rest.split('.');
    return [schema, top.toLowerCase(), sub?.toLowerCase() ?? null];
  };
  const pick = (container: Doc, wanted: [string, string | null][], keep: boolean): Doc => {
    const out: Doc = {};
    for (const [key, value] of Object.entries(container)) {
      const hits = wanted.filter(([top]) => top === key.toLowerCase());
      const whole = hits.some(([, sub]) => sub === null);
      const subs = hits.map(([, sub]) => sub).filter((s): s is string => s !== null);
      if (keep) {
        if (whole) out[key] = value;
        else if (subs.length > 0 && isObject(value)) out[key] = pickSubs(value, subs, true);
        else if (subs.length > 0 && Array.isArray(value)) {
          out[key] = (value as unknown[]).map((v) => (isObject(v) ? pickSubs(v, subs, true) : v));
        }
      } else if (!whole) {
        out[key] =
          subs.length > 0 && isObject(value)
            ? pickSubs(value, subs, false)
            : subs.length > 0 && Array.isArray(value)
              ? (value as unknown[]).map((v) => (isObject(v) ? pickSubs(v, subs, false) : v))
              : value;
      }
    }
    return out;
  };
  const pickSubs = (value: Doc, subs: string[], keep: boolean): Doc =>
    Object.fromEntries(Object.entries(value).filter(([k]) => subs.includes(k.toLowerCase()) === keep));
  const keep = attributes.length > 0;
  const paths = (keep ? attributes : excluded).map(split);
  if (paths.length === 0) return doc;
  const out: Doc = {};
  const core = paths.filter(([s]) => s === null).map(([, top, sub]) => [top, sub] as [string, string | null]);
  const coreDoc = Object.fromEntries(
    Object.entries(doc).filter(([k]) => !/^urn:/i.test(k) && !always.has(k)),
  );
  Object.assign(out, pick(coreDoc, core, keep));
  for (const [key, value] of Object.entries(doc)) {
    if (always.has(key)) out[key] = value;
    else if (/^urn:/i.test(key) && isObject(value)) {
      const mine = paths.filter(([s]) => s === key);
      const wholeExt = paths.some(([s, top]) => s === null && top === key.toLowerCase());
      if (keep) {
        if (wholeExt) out[key] = value;
        else if (mine.length > 0)
          out[key] = pick(
            value,
            mine.map(([, t, s]) => [t, s]),
            true,
          );
      } else if (!wholeExt) {
        out[key] =
          mine.length > 0
            ? pick(
                value,
                mine.map(([, t, s]) => [t, s]),
                false,
              )
            : value;
      }
    }
  }
  return out;
}
