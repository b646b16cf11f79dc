import { InputError, showValue } from '../../core/errors.ts';
import type { Filter } from '../directory/index.ts';
import { matches } from './filter-eval.ts';
import { parsePatchPath, type PatchPath } from './filter-parse.ts';
import { coerceBoolean, isObject, memberIdsOf, shapeValue, type Doc } from './resources.ts';
import {
  canonicalSchema,
  definitions,
  enterpriseSchema,
  groupSchema,
  lookup,
  patchSchema,
  userSchema,
} from './schema.ts';

/**
 * SCIM PATCH (RFC 7644 §3.5.2) as a pure function of the resource and the
 * operations, in the dialects real clients send:
 *
 * - RFC: lower-case ops, `members[value eq "…"]`, `emails[type eq "work"].value`.
 * - Microsoft Entra: `Add`/`Replace`/`Remove`; booleans as "True"/"False";
 *   path-less ops whose value keys are paths (`name.givenName`,
 *   `urn:…:enterprise:2.0:User:manager`, `emails[type eq "work"].value`);
 *   `Add` on a single-valued attribute replaces it; member removal by
 *   `path: members` with a value list; the manager as a bare id.
 * - Okta: path-less `replace` of `{ "active": false }`, of a group's
 *   `{ "id": …, "displayName": … }`.
 *
 * A group's members are never loaded into a document: planGroupPatch turns
 * the operations into set-based member steps for the Directory.
 */
export const patchOps = ['add', 'replace', 'remove'] as const;
export type PatchOp = (typeof patchOps)[number];

export interface PatchOperation {
  readonly op: PatchOp;
  readonly path: string | null;
  readonly value: unknown;
}

/** Most operations in one PATCH; a large member list goes in one operation's value. */
export const maxOperations = 1000;

/** A refused PATCH or resource, with SCIM's scimType (RFC 7644 §3.12). */
export class ScimInputError extends InputError {
  readonly scimType:
    'invalidPath' | 'invalidValue' | 'noTarget' | 'mutability' | 'invalidSyntax' | 'invalidFilter';
  constructor(scimType: ScimInputError['scimType'], message: string, field: string) {
    super(message, { field });
    this.scimType = scimType;
  }
}

export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body))
    throw new ScimInputError(
      'invalidSyntax',
      'a PATCH body is a JSON object with "Operations"',
      'Operations',
    );
  const schemas = body.schemas;
  if (Array.isArray(schemas) && !schemas.some((s) => String(s).toLowerCase() === patchSchema.toLowerCase())) {
    throw new ScimInputError(
      'invalidSyntax',
      `field "schemas": ${showValue(schemas)} does not name ${patchSchema}`,
      'schemas',
    );
  }
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
  const ops = key ? body[key] : undefined;
  if (!Array.isArray(ops) || ops.length === 0 || ops.length > maxOperations) {
    throw new ScimInputError(
      'invalidSyntax',
      `field "Operations": ${showValue(ops)} is not accepted; a list of 1 to ${maxOperations} operations`,
      'Operations',
    );
  }
  return ops.map((raw, i) => {
    const field = `Operations[${i}]`;
    if (!isObject(raw))
      throw new ScimInputError(
        'invalidSyntax',
        `${field}: ${showValue(raw)} is not an operation object`,
        field,
      );
    const get = (name: string) => raw[Object.keys(raw).find((k) => k.toLowerCase() === name) ?? name];
    const rawOp = get('op');
    const op = typeof rawOp === 'string' ? rawOp.toLowerCase() : '';
    if (!(patchOps as readonly string[]).includes(op)) {
      throw new ScimInputError(
        'invalidSyntax',
        `${field}.op: ${showValue(get('op'))} is not add, replace or remove`,
        `${field}.op`,
      );
    }
    const path = get('path');
    if (path !== undefined && path !== null && (typeof path !== 'string' || path.trim() === '')) {
      throw new ScimInputError(
        'invalidPath',
        `${field}.path: ${showValue(path)} is not a path`,
        `${field}.path`,
      );
    }
    const value = get('value');
    if ((path === undefined || path === null) && op === 'remove') {
      throw new ScimInputError('noTarget', `${field}: a remove needs a path`, `${field}.path`);
    }
    if ((path === undefined || path === null) && !isObject(value)) {
      throw new ScimInputError(
        'invalidValue',
        `${field}: without a path the value is an object of attributes`,
        `${field}.value`,
      );
    }
    return { op: op as PatchOp, path: typeof path === 'string' ? path.trim() : null, value };
  });
}

interface Step {
  readonly op: PatchOp;
  readonly path: PatchPath;
  readonly value: unknown;
  readonly field: string;
}

/** Path-less operations to one step per key: `{ "name.givenName": "x", "urn:…:User": { … } }`. */
function steps(kind: 'User' | 'Group', ops: readonly PatchOperation[], doc: Doc | null): Step[] {
  const out: Step[] = [];
  ops.forEach((o, i) => {
    const field = `Operations[${i}]`;
    const parse = (text: string, at: string): PatchPath => {
      try {
        return parsePatchPath(text);
      } catch (error) {
        throw new ScimInputError('invalidPath', `${at}: ${(error as Error).message}`, at);
      }
    };
    if (o.path !== null) {
      out.push({ op: o.op, path: parse(o.path, `${field}.path`), value: o.value, field });
      return;
    }
    for (const [key, value] of Object.entries(o.value as Doc)) {
      const urn = /^urn:/i.test(key) ? canonicalSchema(key) : null;
      const lower = urn?.toLowerCase();
      const core = lower === userSchema.toLowerCase() || lower === groupSchema.toLowerCase();
      const known = (u: string) =>
        u.toLowerCase() === enterpriseSchema.toLowerCase() ||
        Object.keys(doc ?? {}).some((k) => k.toLowerCase() === u.toLowerCase());
      // `urn:…:User` with an object is a whole extension; `urn:…:User:manager` one of its attributes.
      const wholeExtension =
        urn !== null &&
        !core &&
        isObject(value) &&
        (known(urn) || (kind === 'User' && !known(urn.slice(0, urn.lastIndexOf(':')))));
      if (core || wholeExtension) {
        for (const [k, v] of Object.entries(value as Doc)) {
          out.push({ op: o.op, path: parse(core ? k : `${urn}:${k}`, `${field}.value`), value: v, field });
        }
      } else {
        out.push({ op: o.op, path: parse(key, `${field}.value`), value, field });
      }
    }
  });
  return out;
}

const readOnly = new Set(['id', 'meta', 'groups', 'schemas']);

/** Applies the operations to a canonical User document; returns a new one. */
export function applyUserPatch(doc: Doc, ops: readonly PatchOperation[]): Doc {
  const next = structuredClone(doc);
  for (const step of steps('User', ops, doc)) applyStep(next, step);
  return next;
}

function applyStep(doc: Doc, step: Step): void {
  const { op, path: pp, field } = step;
  const schema = pp.path.schema === null ? null : canonicalSchema(pp.path.schema);
  const defs = definitions('User', schema);
  const def = lookup(defs, pp.path.attribute);
  if (schema === null && !def) {
    throw new ScimInputError(
      'invalidPath',
      `${field}: the User schema has no attribute ${showValue(pp.path.attribute)}`,
      field,
    );
  }
  const name = def?.name ?? pp.path.attribute;
  if (schema === null && readOnly.has(name)) {
    if (name === 'id' && op !== 'remove' && step.value === doc.id) return;
    throw new ScimInputError('mutability', `${field}: ${name} is read-only`, field);
  }
  if (name === 'password') return; // Never stored (schema.ts).
  let container: Doc;
  if (schema === null) container = doc;
  else {
    const key = Object.keys(doc).find((k) => k.toLowerCase() === schema.toLowerCase()) ?? schema;
    if (!isObject(doc[key])) {
      if (op === 'remove') return;
      doc[key] = {};
    }
    container = doc[key] as Doc;
  }
  const subName = pp.sub ?? pp.path.sub;
  const subDef = subName === null ? undefined : lookup(def?.subAttributes, subName);
  const sub = subName === null ? null : (subDef?.name ?? subName);
  const label = `${field} (${schema ? `${schema}:` : ''}${name}${sub ? `.${sub}` : ''})`;

  if (pp.filter) {
    if (!def?.multiValued && def)
      throw new ScimInputError('invalidPath', `${label}: [...] needs a multi-valued attribute`, field);
    const list = Array.isArray(container[name]) ? (container[name] as unknown[]) : [];
    const hit = list.filter((e) => matches(pp.filter as Filter, e));
    if (op === 'remove') {
      if (sub === null) container[name] = list.filter((e) => !hit.includes(e));
      else for (const e of hit) if (isObject(e)) delete e[sub];
      if ((container[name] as unknown[]).length === 0) delete container[name];
      return;
    }
    if (sub !== null) {
      const value = subDef ? shapeValue(subDef, step.value, label) : step.value;
      if (hit.length > 0) {
        for (const e of hit) if (isObject(e)) e[sub] = value;
        return;
      }
      // Entra: `Add`/`Replace` of emails[type eq "work"].value when there is no work address yet makes one.
      const seed = seedOf(pp.filter);
      if (!seed) throw new ScimInputError('noTarget', `${label}: no element matches the filter`, field);
      container[name] = [...list, { ...seed, [sub]: value }];
      return;
    }
    if (hit.length === 0)
      throw new ScimInputError('noTarget', `${label}: no element matches the filter`, field);
    const value = shapeValue(def ? { ...def, multiValued: false } : undefined, step.value, label);
    container[name] = list.map((e) =>
      hit.includes(e) ? (isObject(e) && isObject(value) ? { ...e, ...value } : value) : e,
    );
    return;
  }

  if (sub !== null) {
    const parent = container[name];
    if (op === 'remove') {
      if (isObject(parent)) delete parent[sub];
      else if (Array.isArray(parent)) for (const e of parent) if (isObject(e)) delete e[sub];
      return;
    }
    const value = subDef ? shapeValue(subDef, step.value, label) : step.value;
    if (def?.multiValued) {
      const list = Array.isArray(parent) ? parent : [];
      if (list.length === 0) container[name] = [{ [sub]: value }];
      else for (const e of list) if (isObject(e)) e[sub] = value;
    } else {
      container[name] = { ...(isObject(parent) ? parent : {}), [sub]: value };
    }
    return;
  }

  if (op === 'remove') {
    if (def?.multiValued && step.value !== undefined && step.value !== null) {
      // Entra: remove listed values ([{ "value": … }]) from a multi-valued attribute.
      const gone = new Set(memberIdsOf(step.value, field).map((v) => v.toLowerCase()));
      const list = Array.isArray(container[name]) ? (container[name] as unknown[]) : [];
      container[name] = list.filter((e) => !gone.has(String(isObject(e) ? e.value : e).toLowerCase()));
      if ((container[name] as unknown[]).length === 0) delete container[name];
      return;
    }
    delete container[name];
    return;
  }
  const value = shapeValue(def, step.value, label);
  if (def?.multiValued && op === 'add') {
    const list = Array.isArray(container[name]) ? [...(container[name] as unknown[])] : [];
    for (const item of value as unknown[]) {
      if (!list.some((e) => JSON.stringify(e) === JSON.stringify(item))) list.push(item);
    }
    container[name] = list;
  } else if (def?.type === 'complex' && !def.multiValued && isObject(value) && isObject(container[name])) {
    // Sub-attributes not in the value stay (RFC 7644 §3.5.2.3).
    container[name] = { ...container[name], ...value };
  } else if (value === null) {
    delete container[name];
  } else {
    container[name] = value;
  }
  if (def?.multiValued) onePrimary(container[name]);
}

/** The element a filter of `eq` tests describes (`type eq "work"`), or undefined for any other filter. */
function seedOf(filter: Filter): Doc | undefined {
  if (filter.kind === 'compare' && filter.op === 'eq' && filter.path.sub === null) {
    return { [filter.path.attribute]: coerceBoolean(filter.value) };
  }
  if (filter.kind === 'and') {
    const left = seedOf(filter.left);
    const right = seedOf(filter.right);
    return left && right ? { ...left, ...right } : undefined;
  }
  return undefined;
}

/** At most one element of a multi-valued attribute is primary: the last one set so. */
function onePrimary(list: unknown): void {
  if (!Array.isArray(list)) return;
  const primaries = list.filter((e) => isObject(e) && e.primary === true);
  for (const e of primaries.slice(0, -1)) (e as Doc).primary = false;
}

/** What a group PATCH does: field changes, and member changes in order, each one set-based statement. */
export interface GroupPatchPlan {
  readonly displayName?: string;
  readonly externalId?: string | null;
  readonly members: readonly MemberStep[];
}

export type MemberStep = { readonly kind: 'add' | 'remove' | 'replace'; readonly ids: readonly string[] };

export function planGroupPatch(ops: readonly PatchOperation[], group: { id: string }): GroupPatchPlan {
  let displayName: string | undefined;
  let externalId: string | null | undefined;
  const members: MemberStep[] = [];
  const push = (kind: MemberStep['kind'], ids: readonly string[]) => {
    const last = members.at(-1);
    if (kind === 'replace') members.length = 0;
    if (last && last.kind === kind && kind !== 'replace')
      members[members.length - 1] = { kind, ids: [...last.ids, ...ids] };
    else members.push({ kind, ids });
  };
  for (const step of steps('Group', ops, null)) {
    const { op, path: pp, field } = step;
    const name = lookup(definitions('Group', null), pp.path.attribute)?.name;
    if (pp.path.schema !== null || name === undefined) {
      throw new ScimInputError(
        'invalidPath',
        `${field}: the Group schema has no attribute ${showValue(pp.path.attribute)}`,
        field,
      );
    }
    if (name === 'members') {
      if (pp.filter) {
        if (op !== 'remove' || pp.sub !== null) {
          throw new ScimInputError('invalidPath', `${field}: members[...] can only be removed`, field);
        }
        push('remove', memberValues(pp.filter, field));
      } else if (op === 'remove') {
        if (step.value === undefined || step.value === null) push('replace', []);
        else push('remove', memberIdsOf(step.value, `${field}.value`));
      } else {
        push(op === 'add' ? 'add' : 'replace', memberIdsOf(step.value, `${field}.value`));
      }
      continue;
    }
    if (name === 'id') {
      if (step.value === group.id && op !== 'remove') continue;
      throw new ScimInputError('mutability', `${field}: id is read-only`, field);
    }
    if (name === 'displayName') {
      if (op === 'remove' || typeof step.value !== 'string' || step.value.trim() === '') {
        throw new ScimInputError(
          'invalidValue',
          `${field}: displayName is required: a non-empty string, not ${showValue(step.value)}`,
          field,
        );
      }
      displayName = step.value;
      continue;
    }
    // externalId
    if (op === 'remove' || step.value === null) externalId = null;
    else if (typeof step.value === 'string') externalId = step.value;
    else
      throw new ScimInputError(
        'invalidValue',
        `${field}: externalId is a string, not ${showValue(step.value)}`,
        field,
      );
  }
  return {
    ...(displayName !== undefined ? { displayName } : {}),
    ...(externalId !== undefined ? { externalId } : {}),
    members,
  };
}

/** `value eq "a"`, or several joined by `or`: the ids of `members[…]`. */
function memberValues(filter: Filter, field: string): string[] {
  if (filter.kind === 'or')
    return [...memberValues(filter.left, field), ...memberValues(filter.right, field)];
  if (
    filter.kind === 'compare' &&
    filter.op === 'eq' &&
    filter.path.attribute.toLowerCase() === 'value' &&
    typeof filter.value === 'string'
  ) {
    return [filter.value];
  }
  throw new ScimInputError(
    'invalidFilter',
    `${field}: members[...] takes value eq "<user id>" (joined by or)`,
    field,
  );
}
