import { InputError, showValue } from '../core/errors.ts';

/**
 * IP allow lists per stage: parsed once when the operator sets them (a bad
 * entry is refused with the value named), matched on every connection.
 *
 * Addresses are held as 128-bit numbers; an IPv4 address is held as its
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), so `10.0.0.0/8` also matches
 * a client that a dual-stack socket reports as `::ffff:10.1.2.3`.
 */
export interface CidrRange {
  /** The range as the operator would write it, normalised (`10.0.0.0/8`, `2001:db8::/32`). */
  readonly text: string;
  readonly base: bigint;
  /** Prefix length over all 128 bits (an IPv4 /8 is 104). */
  readonly prefix: number;
}

/** An empty list allows nobody; a stage without a list is not restricted (the caller does not call `allows`). */
export type AllowList = readonly CidrRange[];

const v4MappedBase = 0xffffn << 32n;
const all128 = (1n << 128n) - 1n;

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // No leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseGroups(text: string): bigint[] | undefined {
  if (text === '') return [];
  const groups: bigint[] = [];
  const parts = text.split(':');
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIPv4(part);
      if (v4 === undefined) return undefined;
      groups.push(v4 >> 16n, v4 & 0xffffn);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      groups.push(BigInt(`0x${part}`));
    }
  }
  return groups;
}

function parseIPv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] ?? '');
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return undefined;
  const count = head.length + tail.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return undefined;
  const groups = [...head, ...new Array<bigint>(8 - count).fill(0n), ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/**
 * An address as a 128-bit number (IPv4 as IPv4-mapped), or undefined if it
 * is not one. A zone (`fe80::1%eth0`) is ignored.
 */
export function parseAddress(text: string): bigint | undefined {
  if (text.includes(':')) {
    const zone = text.indexOf('%');
    return parseIPv6(zone >= 0 ? text.slice(0, zone) : text);
  }
  const v4 = parseIPv4(text);
  return v4 === undefined ? undefined : v4MappedBase | v4;
}

function isV4Mapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

/** Shows a 128-bit address: dotted for IPv4(-mapped), else RFC 5952 (lower case, longest zero run as `::`). */
export function formatAddress(value: bigint): string {
  if (isV4Mapped(value)) {
    const v4 = Number(value & 0xffffffffn);
    return [24, 16, 8, 0].map((shift) => (v4 >>> shift) & 0xff).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

const rangeExamples = 'for example 10.0.0.0/8, 192.0.2.7, 2001:db8::/32 or ::ffff:10.0.0.0/104';

/** Parses one CIDR range (or a single address); throws InputError naming the value. */
export function parseCidr(text: string, field = 'allow_from'): CidrRange {
  const value = text.trim();
  const slash = value.indexOf('/');
  const addressText = slash >= 0 ? value.slice(0, slash) : value;
  const prefixText = slash >= 0 ? value.slice(slash + 1) : undefined;
  const v6 = addressText.includes(':');
  const address = v6 && addressText.includes('%') ? undefined : parseAddress(addressText);
  if (address === undefined) {
    throw new InputError(
      `${field}: ${showValue(text)} is not an IPv4 or IPv6 address with an optional /prefix (${rangeExamples})`,
      { field },
    );
  }
  const maxPrefix = v6 ? 128 : 32;
  let prefix = maxPrefix;
  if (prefixText !== undefined) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      throw new InputError(
        `${field}: ${showValue(text)} has prefix ${showValue(prefixText)}; an ${v6 ? 'IPv6' : 'IPv4'} prefix is a whole number from 0 to ${maxPrefix}`,
        { field },
      );
    }
    prefix = Number(prefixText);
  }
  const prefix128 = v6 ? prefix : 96 + prefix;
  const mask = prefix128 === 0 ? 0n : (all128 << BigInt(128 - prefix128)) & all128;
  const base = address & mask;
  const shown = v6 && isV4Mapped(base) ? `::ffff:${formatAddress(base)}` : formatAddress(base);
  if (base !== address) {
    // 10.0.0.1/8 is almost always a typo for one host or for 10.0.0.0/8: ask, do not guess.
    throw new InputError(
      `${field}: ${showValue(text)} has bits set after the /${prefix} prefix; write ${shown}/${prefix} for the range or ${formatAddress(address)} for one address`,
      { field },
    );
  }
  return { text: `${shown}/${prefix}`, base, prefix: prefix128 };
}

/**
 * Parses an allow list: each value one range, or several separated by
 * commas or spaces. Throws InputError on the first bad entry.
 */
export function parseAllowList(values: readonly string[], field = 'allow_from'): AllowList {
  const ranges: CidrRange[] = [];
  for (const value of values) {
    for (const entry of value.split(/[\s,]+/)) {
      if (entry !== '') ranges.push(parseCidr(entry, field));
    }
  }
  return Object.freeze(ranges);
}

/** Whether `address` (as a socket reports it) falls in one of the ranges. Not an address: false. */
export function allows(list: AllowList, address: string): boolean {
  const value = parseAddress(address);
  if (value === undefined) return false;
  return list.some((range) => {
    const shift = BigInt(128 - range.prefix);
    return range.prefix === 0 || value >> shift === range.base >> shift;
  });
}
