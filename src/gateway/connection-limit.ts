import { canonicalAddress } from './allow-list.ts';

/**
 * Counts the open connections of each client address and refuses one past
 * the cap. An address is tracked only while it has a connection open, so the
 * table holds at most the open connections, and never more than
 * `maxAddresses` addresses (beyond that, new addresses are refused rather
 * than letting a flood of spoofed-looking sources grow memory).
 *
 * `acquire` returns the release for that one connection; calling it more
 * than once is harmless, so a socket's `close` and `error` handlers may both
 * call it.
 */
export interface ConnectionLimitOptions {
  readonly maxPerAddress: number;
  readonly maxAddresses: number;
}

export type ConnectionDecision =
  | { readonly allowed: true; readonly release: () => void }
  | { readonly allowed: false; readonly reason: 'per_address' | 'table_full' };

export class ConnectionLimiter {
  readonly #maxPerAddress: number;
  readonly #maxAddresses: number;
  readonly #open = new Map<string, number>();
  #total = 0;

  constructor(options: ConnectionLimitOptions) {
    if (!Number.isInteger(options.maxPerAddress) || options.maxPerAddress < 1) {
      throw new RangeError(`maxPerAddress must be a positive whole number, not ${options.maxPerAddress}`);
    }
    if (!Number.isInteger(options.maxAddresses) || options.maxAddresses < 1) {
      throw new RangeError(`maxAddresses must be a positive whole number, not ${options.maxAddresses}`);
    }
    this.#maxPerAddress = options.maxPerAddress;
    this.#maxAddresses = options.maxAddresses;
  }

  /**
   * Count a new connection from `address`. IPv4-mapped IPv6 addresses
   * (`::ffff:10.0.0.1`) count as their IPv4 address, so one client is one key.
   */
  acquire(address: string): ConnectionDecision {
    const key = canonicalAddress(address) ?? address;
    const count = this.#open.get(key) ?? 0;
    if (count >= this.#maxPerAddress) return { allowed: false, reason: 'per_address' };
    if (count === 0 && this.#open.size >= this.#maxAddresses) return { allowed: false, reason: 'table_full' };
    this.#open.set(key, count + 1);
    this.#total++;
    let released = false;
    return {
      allowed: true,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#open.get(key) ?? 1) - 1;
        if (left <= 0) this.#open.delete(key);
        else this.#open.set(key, left);
      },
    };
  }

  /** Open connections of `address` now. */
  count(address: string): number {
    return this.#open.get(canonicalAddress(address) ?? address) ?? 0;
  }

  /** Addresses with at least one open connection. */
  get addresses(): number {
    return this.#open.size;
  }

  /** Open connections over all addresses. */
  get total(): number {
    return this.#total;
  }
}
