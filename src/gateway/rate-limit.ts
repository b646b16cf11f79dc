/**
 * Token buckets keyed by a string: one limiter per client address, another
 * per tenant. Each key gets a bucket of `burst` tokens that refills at
 * `ratePerSecond`; a request takes one token or is refused with the number
 * of seconds after which it would succeed (the `Retry-After` of a 429).
 *
 * Time is passed in (milliseconds, from an injected clock), so tests move it.
 * Memory is bounded: buckets live in a Map kept in least-recently-used
 * order; a bucket that has refilled to full is the same as no bucket and is
 * dropped from the old end as `take` goes, and when `maxKeys` is reached the
 * least recently used bucket is dropped even if not full (that key then
 * starts again with a full bucket, the price of a fixed memory bound).
 */
export interface TokenBucketOptions {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Most buckets kept at once. */
  readonly maxKeys: number;
}

export type RateDecision =
  | { readonly allowed: true; readonly retryAfterSeconds: 0; readonly remaining: number }
  | { readonly allowed: false; readonly retryAfterSeconds: number; readonly remaining: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Old buckets looked at per `take`, so a single call never walks the whole map. */
const sweepPerTake = 4;

export class TokenBucketLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError(`ratePerSecond must be a positive number, not ${options.ratePerSecond}`);
    }
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) {
      throw new RangeError(`burst must be at least 1, not ${options.burst}`);
    }
    if (!Number.isInteger(options.maxKeys) || options.maxKeys < 1) {
      throw new RangeError(`maxKeys must be a positive whole number, not ${options.maxKeys}`);
    }
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst;
    this.#maxKeys = options.maxKeys;
  }

  /** Buckets held now (bounded by `maxKeys`). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Take one token (or `cost`) from `key`'s bucket at time `nowMs`. */
  take(key: string, nowMs: number, cost = 1): RateDecision {
    this.#sweep(nowMs);
    const existing = this.#buckets.get(key);
    let bucket: Bucket;
    if (existing) {
      bucket = existing;
      // A clock that steps back must not mint tokens or owe them.
      const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (elapsedMs * this.#rate) / 1000);
      bucket.updatedMs = Math.max(bucket.updatedMs, nowMs);
      // Re-insert to keep the Map in least-recently-used order.
      this.#buckets.delete(key);
    } else {
      bucket = { tokens: this.#burst, updatedMs: nowMs };
      while (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next();
        if (oldest.done) break;
        this.#buckets.delete(oldest.value);
      }
    }
    this.#buckets.set(key, bucket);

    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(bucket.tokens) };
    }
    const missing = Math.min(cost, this.#burst) - bucket.tokens;
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil(missing / this.#rate)),
      remaining: Math.floor(bucket.tokens),
    };
  }

  /** Drop buckets that have refilled by `nowMs`; returns how many were dropped. */
  sweep(nowMs: number): number {
    return this.#sweep(nowMs, Number.POSITIVE_INFINITY);
  }

  #sweep(nowMs: number, most = sweepPerTake): number {
    let dropped = 0;
    for (const [key, bucket] of this.#buckets) {
      if (dropped >= most) break;
      const refilled = bucket.tokens + (Math.max(0, nowMs - bucket.updatedMs) * this.#rate) / 1000;
      // The map is in least-recently-used order: once one is not full, later ones were used later.
      if (refilled < this.#burst) break;
      this.#buckets.delete(key);
      dropped++;
    }
    return dropped;
  }
}
