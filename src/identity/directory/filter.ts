import { sql, type RawBuilder } from 'kysely';
import { InputError, showValue } from '../../core/errors.ts';

/**
 * A filter over users or groups (SCIM's filter grammar, RFC 7644 §3.4.2.2,
 * parsed by scim/filter-parse.ts) and its translation to SQL. Every value
 * and every attribute name the client sent reaches PostgreSQL as a bound
 * parameter; only names from the fixed tables below are written into the
 * SQL text.
 */
export const compareOps = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;
export type CompareOp = (typeof compareOps)[number];

export type FilterValue = string | number | boolean | null;

/**
 * `schema` is the extension URN for an extension's attribute (null for the
 * core schema, whose URN the parser drops); `sub` is a sub-attribute
 * (`name.givenName`, `emails.value`).
 */
export interface AttrPath {
  readonly schema: string | null;
  readonly attribute: string;
  readonly sub: string | null;
}

export type Filter =
  | { readonly kind: 'and' | 'or'; readonly left: Filter; readonly right: Filter }
  | { readonly kind: 'not'; readonly filter: Filter }
  | { readonly kind: 'compare'; readonly path: AttrPath; readonly op: CompareOp; readonly value: FilterValue }
  | { readonly kind: 'present'; readonly path: AttrPath }
  /** `emails[type eq "work"]`: some element of a multi-valued attribute matches; paths inside name its sub-attributes. */
  | { readonly kind: 'valuePath'; readonly path: AttrPath; readonly filter: Filter };

export type FilterTarget = 'user' | 'group';

type Kind = 'text' | 'exact' | 'boolean' | 'time';

/** Attributes kept in columns; the rest are looked up in `attributes`. Keys are lower case (SCIM names are case-insensitive). */
const userColumns: Readonly<Record<string, { column: string; kind: Kind }>> = {
  id: { column: 'id::text', kind: 'exact' },
  username: { column: 'user_name', kind: 'text' },
  externalid: { column: 'external_id', kind: 'exact' },
  displayname: { column: 'display_name', kind: 'text' },
  active: { column: 'active', kind: 'boolean' },
  'name.givenname': { column: 'given_name', kind: 'text' },
  'name.familyname': { column: 'family_name', kind: 'text' },
  'meta.created': { column: 'created_at', kind: 'time' },
  'meta.lastmodified': { column: 'updated_at', kind: 'time' },
};

const groupColumns: Readonly<Record<string, { column: string; kind: Kind }>> = {
  id: { column: 'id::text', kind: 'exact' },
  displayname: { column: 'display_name', kind: 'text' },
  externalid: { column: 'external_id', kind: 'exact' },
  'meta.created': { column: 'created_at', kind: 'time' },
  'meta.lastmodified': { column: 'updated_at', kind: 'time' },
};

const sqlOps: Readonly<Record<'eq' | 'gt' | 'ge' | 'lt' | 'le', string>> = {
  eq: '=',
  gt: '>',
  ge: '>=',
  lt: '<',
  le: '<=',
};

/** Where a path is read: a row (alias `t`) or, inside `members[...]`, a membership row (alias `m`). */
interface Scope {
  readonly target: FilterTarget;
  /** Inside `members[...]`: the membership row. */
  readonly membership: boolean;
}

/** The SQL condition for `filter` over a row aliased `t` (tenant_users or tenant_groups). */
export function filterSql(filter: Filter, target: FilterTarget): RawBuilder<boolean> {
  return compile(filter, { target, membership: false });
}

function compile(f: Filter, scope: Scope): RawBuilder<boolean> {
  switch (f.kind) {
    case 'and':
      return sql<boolean>`(${compile(f.left, scope)} and ${compile(f.right, scope)})`;
    case 'or':
      return sql<boolean>`(${compile(f.left, scope)} or ${compile(f.right, scope)})`;
    case 'not':
      return sql<boolean>`(not coalesce(${compile(f.filter, scope)}, false))`;
    case 'valuePath':
      return valuePath(f.path, f.filter, scope);
    case 'present':
    case 'compare':
      return leaf(f, scope);
  }
}

function dotted(path: AttrPath): string {
  return (path.sub ? `${path.attribute}.${path.sub}` : path.attribute).toLowerCase();
}

function leaf(f: Extract<Filter, { kind: 'compare' | 'present' }>, scope: Scope): RawBuilder<boolean> {
  const name = dotted(f.path);
  if (scope.membership) {
    if (name !== 'value') throw unsupported(f.path, 'inside members[...] only "value" can be compared');
    return columnTest(f, sql`m.user_id::text`, 'exact');
  }
  if (f.path.schema === null) {
    const columns = scope.target === 'user' ? userColumns : groupColumns;
    const column = columns[name];
    // column.column comes from the fixed tables above, never from the request.
    if (column) return columnTest(f, sql.raw(`t.${column.column}`), column.kind);
    if (scope.target === 'group' && (name === 'members' || name === 'members.value')) {
      const inner = f.kind === 'present' ? sql<boolean>`true` : columnTest(f, sql`m.user_id::text`, 'exact');
      return sql<boolean>`exists (select 1 from tenant_group_members m where m.group_id = t.id and ${inner})`;
    }
  }
  return jsonTest(f, keysOf(f.path));
}

function keysOf(path: AttrPath): string[] {
  return [...(path.schema ? [path.schema] : []), path.attribute, ...(path.sub ? [path.sub] : [])];
}

function valuePath(path: AttrPath, inner: Filter, scope: Scope): RawBuilder<boolean> {
  if (scope.membership) throw unsupported(path, 'a [...] filter cannot be nested');
  if (path.sub)
    throw unsupported(path, 'a [...] filter follows a multi-valued attribute, not a sub-attribute');
  if (scope.target === 'group' && path.schema === null && path.attribute.toLowerCase() === 'members') {
    const test = compile(inner, { ...scope, membership: true });
    return sql<boolean>`exists (select 1 from tenant_group_members m where m.group_id = t.id and ${test})`;
  }
  const vars: Record<string, FilterValue> = {};
  return jsonPathExists(`${jsonPath(keysOf(path))} ? (${predicate(inner, vars)})`, vars);
}

/**
 * The attributes document is searched with one SQL/JSON path per test
 * (jsonb_path_exists): the path text and its variables are bound
 * parameters. Lax mode and `[*]` after every key make `emails.value` any
 * e-mail's value, whether `emails` is a list or one object.
 */
function jsonPathExists(path: string, vars: Record<string, FilterValue>): RawBuilder<boolean> {
  return sql<boolean>`jsonb_path_exists(t.attributes, ${path}::jsonpath, ${JSON.stringify(vars)}::jsonb)`;
}

function jsonPath(keys: readonly string[], root = '$'): string {
  return `${root}${keys.map((k) => `.${JSON.stringify(k)}[*]`).join('')}`;
}

function jsonTest(
  f: Extract<Filter, { kind: 'compare' | 'present' }>,
  keys: readonly string[],
): RawBuilder<boolean> {
  if (f.kind === 'compare' && f.op === 'ne') {
    return sql<boolean>`(not ${jsonTest({ ...f, op: 'eq' }, keys)})`;
  }
  const vars: Record<string, FilterValue> = {};
  return jsonPathExists(`${jsonPath(keys)} ? (${test(f, '@', vars)})`, vars);
}

/** A filter over one element (`@`) of a multi-valued attribute, as SQL/JSON path predicate text. */
function predicate(f: Filter, vars: Record<string, FilterValue>): string {
  switch (f.kind) {
    case 'and':
      return `(${predicate(f.left, vars)} && ${predicate(f.right, vars)})`;
    case 'or':
      return `(${predicate(f.left, vars)} || ${predicate(f.right, vars)})`;
    case 'not':
      return `!(${predicate(f.filter, vars)})`;
    case 'valuePath':
      throw unsupported(f.path, 'a [...] filter cannot be nested');
    case 'present':
    case 'compare': {
      const keys = [f.path.attribute, ...(f.path.sub ? [f.path.sub] : [])];
      const at = jsonPath(keys, '@');
      if (f.kind === 'compare' && f.op === 'ne')
        return `!(exists(${at} ? (${test({ ...f, op: 'eq' }, '@', vars)})))`;
      return `exists(${at} ? (${test(f, '@', vars)}))`;
    }
  }
}

/** Escapes a string for a POSIX regular expression (like_regex), so that it matches only itself. */
function regexLiteral(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

function test(
  f: Extract<Filter, { kind: 'compare' | 'present' }>,
  at: string,
  vars: Record<string, FilterValue>,
): string {
  if (f.kind === 'present') return `${at} != null && ${at} != ""`;
  const { op, value, path } = f;
  const bind = (v: FilterValue): string => {
    const name = `v${Object.keys(vars).length}`;
    vars[name] = v;
    return `$${name}`;
  };
  if (value === null) {
    if (op !== 'eq') throw unsupported(path, `"${op}" needs a value, not null`);
    return `${at} == null`;
  }
  if (typeof value === 'boolean') {
    if (op !== 'eq') throw unsupported(path, `"${op}" cannot compare true or false`);
    return `${at} == ${bind(value)}`;
  }
  if (op === 'ne') return `${at} != ${bind(value)}`;
  if (typeof value === 'number') {
    if (op === 'co' || op === 'sw' || op === 'ew') throw unsupported(path, `"${op}" compares strings`);
    return `${at} ${op === 'eq' ? '==' : sqlOps[op]} ${bind(value)}`;
  }
  const literal = regexLiteral(value);
  const regex =
    op === 'eq'
      ? `^${literal}$`
      : op === 'sw'
        ? `^${literal}`
        : op === 'ew'
          ? `${literal}$`
          : op === 'co'
            ? literal
            : null;
  // Strings compare without regard to case (SCIM's caseExact is false for these attributes).
  if (regex !== null) return `${at} like_regex ${JSON.stringify(regex)} flag "i"`;
  return `${at} ${sqlOps[op as 'gt' | 'ge' | 'lt' | 'le']} ${bind(value)}`;
}

function columnTest(
  f: Extract<Filter, { kind: 'compare' | 'present' }>,
  column: RawBuilder<unknown>,
  kind: Kind,
): RawBuilder<boolean> {
  if (f.kind === 'present') {
    return kind === 'text' || kind === 'exact'
      ? sql<boolean>`(${column} is not null and ${column}::text <> '')`
      : sql<boolean>`(${column} is not null)`;
  }
  if (f.op === 'ne')
    return sql<boolean>`(not coalesce(${columnTest({ ...f, op: 'eq' }, column, kind)}, false))`;
  const { op, value, path } = f;
  if (value === null) {
    if (op !== 'eq') throw unsupported(path, `"${op}" needs a value, not null`);
    return sql<boolean>`(${column} is null)`;
  }
  if (kind === 'boolean') {
    const b =
      typeof value === 'boolean'
        ? value
        : /^(true|false)$/i.test(String(value))
          ? /^true$/i.test(String(value))
          : null;
    if (op !== 'eq' || b === null) {
      throw unsupported(path, `compares with "eq" and true or false only, not ${op} ${showValue(value)}`);
    }
    return sql<boolean>`(${column} = ${b})`;
  }
  if (typeof value === 'number' && kind !== 'time') {
    // An unquoted number (`externalId eq 1234`) is that text.
    return columnTest({ ...f, value: String(value) }, column, kind);
  }
  if (typeof value !== 'string') {
    throw unsupported(path, `compares with a string, not ${showValue(value)}`);
  }
  if (kind === 'time') {
    if (op === 'co' || op === 'sw' || op === 'ew' || Number.isNaN(Date.parse(value))) {
      throw unsupported(
        path,
        `compares with eq, gt, ge, lt or le and a date-time like "2026-01-31T12:00:00Z", not ${op} ${showValue(value)}`,
      );
    }
    return sql<boolean>`(${column} ${sql.raw(sqlOps[op])} ${value}::timestamptz)`;
  }
  const lower = kind === 'text';
  const left = lower ? sql`lower(${column})` : column;
  if (op === 'co' || op === 'sw' || op === 'ew') {
    return sql<boolean>`(${left} like ${pattern(op, value, !lower)})`;
  }
  const right = lower ? sql`lower(${value}::text)` : sql`${value}::text`;
  return sql<boolean>`(${left} ${sql.raw(sqlOps[op])} ${right})`;
}

/** A LIKE pattern for co/sw/ew with the value's own %, _ and \ escaped. */
function pattern(op: 'co' | 'sw' | 'ew', value: string, exact = false): string {
  const v = (exact ? value : value.toLowerCase()).replace(/[\\%_]/g, (c) => `\\${c}`);
  return op === 'co' ? `%${v}%` : op === 'sw' ? `${v}%` : `%${v}`;
}

function unsupported(path: AttrPath, what: string): InputError {
  const name = [path.schema, path.sub ? `${path.attribute}.${path.sub}` : path.attribute]
    .filter(Boolean)
    .join(':');
  return new InputError(`filter: attribute ${showValue(name)}: ${what}`, { field: 'filter' });
}
