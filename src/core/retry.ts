/**
 * Retry only what was classified as transient: serialization failures,
 * deadlocks, a server starting up or shutting down, and connection resets.
 */
const retryablePgCodes = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '08000', '08003', '08006']);
const retryableNodeCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return retryablePgCodes.has(code) || retryableNodeCodes.has(code);
}

/** Capped exponential backoff with full jitter, in milliseconds. */
export function backoff(
  attempt: number,
  baseMs = 200,
  capMs = 30_000,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export async function withRetry<T>(
  work: () => Promise<T>,
  options: { attempts?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt + 1 >= attempts || !isTransient(error)) throw error;
      await sleep(backoff(attempt));
    }
  }
}
