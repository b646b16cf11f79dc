import { InputError, showValue } from '../../core/errors.ts';
import {
  compareOps,
  type AttrPath,
  type CompareOp,
  type Filter,
  type FilterValue,
} from '../directory/index.ts';

/**
 * SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2) to plain data:
 * a pure parser, no I/O. Lenient where real clients are: operators and
 * `and`/`or`/`not` in any case, unquoted values (`userName eq john@x.com`),
 * a sub-attribute after a value filter (`emails[type eq "work"].value eq
 * "…"`). Precedence: not, then and, then or; parentheses group.
 */

/** The URNs whose attributes are the resource's own (written without the URN). */
export const coreSchemas = [
  'urn:ietf:params:scim:schemas:core:2.0:user',
  'urn:ietf:params:scim:schemas:core:2.0:group',
] as const;

/** Longest filter or path accepted: enough for any client's, small enough to parse at once. */
export const maxFilterLength = 4096;
const maxDepth = 32;

type Token =
  | { readonly kind: '(' | ')' | '[' | ']'; readonly at: number }
  | { readonly kind: 'string'; readonly value: string; readonly at: number }
  | { readonly kind: 'word'; readonly value: string; readonly at: number };

export function parseFilter(text: string, field = 'filter'): Filter {
  const p = new Parser(text, field);
  const filter = p.or(0);
  p.end();
  return filter;
}

/** A PATCH operation's path: an attribute, optionally filtered (`members[value eq "…"]`) and with a sub-attribute. */
export interface PatchPath {
  readonly path: AttrPath;
  readonly filter: Filter | null;
  /** After a value filter: `emails[type eq "work"].value` has sub "value". */
  readonly sub: string | null;
}

export function parsePatchPath(text: string): PatchPath {
  const p = new Parser(text, 'path');
  const word = p.word('an attribute name');
  const path = attrPath(word.value, word.at, p);
  let filter: Filter | null = null;
  let sub: string | null = null;
  if (p.peek()?.kind === '[') {
    if (path.sub)
      throw p.error(word.at, 'a [...] filter follows a multi-valued attribute, not a sub-attribute');
    p.next();
    filter = p.or(1);
    p.expect(']');
    const after = p.peek();
    if (after?.kind === 'word' && after.value.startsWith('.')) {
      p.next();
      sub = name(after.value.slice(1), after.at + 1, p);
    }
  }
  p.end();
  return { path, filter, sub };
}

class Parser {
  readonly #text: string;
  readonly #field: string;
  readonly #tokens: Token[];
  #i = 0;
  #inBrackets = false;

  constructor(text: string, field: string) {
    this.#text = text;
    this.#field = field;
    if (typeof text !== 'string' || text.trim() === '') throw this.error(0, 'it is empty');
    if (text.length > maxFilterLength)
      throw this.error(0, `it is ${text.length} characters long; at most ${maxFilterLength}`);
    this.#tokens = this.#tokenize();
  }

  error(at: number, what: string): InputError {
    return new InputError(
      `${this.#field} ${showValue(this.#text)}: ${what} (at character ${at + 1}); filters look like userName eq "ann@example.com" and emails[type eq "work"].value co "@example.com"`,
      { field: this.#field },
    );
  }

  #tokenize(): Token[] {
    const tokens: Token[] = [];
    const t = this.#text;
    let i = 0;
    while (i < t.length) {
      const c = t[i] as string;
      if (/\s/.test(c)) {
        i += 1;
      } else if (c === '(' || c === ')' || c === '[' || c === ']') {
        tokens.push({ kind: c, at: i });
        i += 1;
      } else if (c === '"') {
        const start = i;
        i += 1;
        while (i < t.length && t[i] !== '"') i += t[i] === '\\' ? 2 : 1;
        if (i >= t.length) throw this.error(start, 'a string is not closed');
        i += 1;
        let value: unknown;
        try {
          value = JSON.parse(t.slice(start, i));
        } catch {
          throw this.error(start, 'a string has a bad escape');
        }
        tokens.push({ kind: 'string', value: value as string, at: start });
      } else {
        const start = i;
        while (i < t.length && !/[\s()[\]"]/.test(t[i] as string)) i += 1;
        tokens.push({ kind: 'word', value: t.slice(start, i), at: start });
      }
    }
    return tokens;
  }

  peek(): Token | undefined {
    return this.#tokens[this.#i];
  }

  next(): Token | undefined {
    return this.#tokens[this.#i++];
  }

  #keyword(word: string): boolean {
    const t = this.peek();
    if (t?.kind === 'word' && t.value.toLowerCase() === word) {
      this.#i += 1;
      return true;
    }
    return false;
  }

  expect(kind: ')' | ']'): void {
    const t = this.next();
    if (t?.kind !== kind) throw this.error(t?.at ?? this.#text.length, `"${kind}" expected`);
  }

  word(what: string): { value: string; at: number } {
    const t = this.next();
    if (t?.kind !== 'word') throw this.error(t?.at ?? this.#text.length, `${what} expected`);
    return t;
  }

  end(): void {
    const t = this.peek();
    if (t) throw this.error(t.at, 'unexpected text after the end');
  }

  or(depth: number): Filter {
    let left = this.and(depth);
    while (this.#keyword('or')) left = { kind: 'or', left, right: this.and(depth) };
    return left;
  }

  and(depth: number): Filter {
    let left = this.unary(depth);
    while (this.#keyword('and')) left = { kind: 'and', left, right: this.unary(depth) };
    return left;
  }

  unary(depth: number): Filter {
    if (depth > maxDepth) throw this.error(this.peek()?.at ?? 0, `it nests deeper than ${maxDepth}`);
    const t = this.peek();
    if (t?.kind === 'word' && t.value.toLowerCase() === 'not') {
      const after = this.#tokens[this.#i + 1];
      // `not` is an attribute name too; it is the operator when a group or an attribute follows.
      if (after?.kind === '(' || (after?.kind === 'word' && !isOperator(after.value))) {
        this.next();
        return { kind: 'not', filter: this.unary(depth + 1) };
      }
    }
    if (t?.kind === '(') {
      this.next();
      const inner = this.or(depth + 1);
      this.expect(')');
      return inner;
    }
    return this.attrExp(depth);
  }

  attrExp(depth: number): Filter {
    const word = this.word('an attribute name');
    const path = attrPath(word.value, word.at, this);
    if (this.peek()?.kind === '[') {
      if (this.#inBrackets) throw this.error(word.at, 'a [...] filter cannot be nested');
      if (path.sub)
        throw this.error(word.at, 'a [...] filter follows a multi-valued attribute, not a sub-attribute');
      this.next();
      this.#inBrackets = true;
      const inner = this.or(depth + 1);
      this.#inBrackets = false;
      this.expect(']');
      const after = this.peek();
      if (after?.kind === 'word' && after.value.startsWith('.')) {
        // emails[type eq "work"].value eq "x": the element's sub-attribute, compared within the same element.
        this.next();
        const sub = name(after.value.slice(1), after.at + 1, this);
        const test = this.#comparison({ schema: null, attribute: sub, sub: null }, after.at);
        return { kind: 'valuePath', path, filter: { kind: 'and', left: inner, right: test } };
      }
      return { kind: 'valuePath', path, filter: inner };
    }
    return this.#comparison(path, word.at);
  }

  #comparison(path: AttrPath, at: number): Filter {
    const op = this.next();
    if (op?.kind !== 'word' || !isOperator(op.value)) {
      throw this.error(
        op?.at ?? at,
        `an operator (pr, ${compareOps.join(', ')}) expected after ${showValue(path.attribute)}`,
      );
    }
    const lower = op.value.toLowerCase();
    if (lower === 'pr') return { kind: 'present', path };
    return { kind: 'compare', path, op: lower as CompareOp, value: this.#value(op.at) };
  }

  #value(at: number): FilterValue {
    const t = this.next();
    if (t?.kind === 'string') return t.value;
    if (t?.kind !== 'word')
      throw this.error(t?.at ?? at, 'a value expected (a "string", a number, true, false or null)');
    const lower = t.value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    if (lower === 'null') return null;
    if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t.value)) return Number(t.value);
    // Unquoted, as some clients send it: the word as a string.
    return t.value;
  }
}

function isOperator(word: string): boolean {
  const lower = word.toLowerCase();
  return lower === 'pr' || (compareOps as readonly string[]).includes(lower);
}

const namePattern = /^[A-Za-z$][\w$-]*$/;

function name(value: string, at: number, p: Parser): string {
  if (!namePattern.test(value)) throw p.error(at, `${showValue(value)} is not an attribute name`);
  return value;
}

/** `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`. */
function attrPath(word: string, at: number, p: Parser): AttrPath {
  let schema: string | null = null;
  let rest = word;
  if (/^urn:/i.test(word)) {
    const colon = word.lastIndexOf(':');
    schema = word.slice(0, colon);
    rest = word.slice(colon + 1);
    if ((coreSchemas as readonly string[]).includes(schema.toLowerCase())) schema = null;
  }
  const parts = rest.split('.');
  if (parts.length > 2) throw p.error(at, `${showValue(word)} has more than one sub-attribute`);
  return {
    schema,
    attribute: name(parts[0] ?? '', at, p),
    sub: parts[1] === undefined ? null : name(parts[1], at, p),
  };
}
