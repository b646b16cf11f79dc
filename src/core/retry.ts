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

/**
 * The database server is gone or not (yet) accepting sessions: refused or
 * reset connections, a server shutting down or starting up, a session the
 * server ended. Not a statement's own failure.
 */
const connectionLossPgCodes = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const connectionLossMessages = [
  'Connection terminated',
  'connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout expired',
];

export function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (connectionLossPgCodes.has(code) || retryableNodeCodes.has(code)))
    return true;
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && connectionLossMessages.some((m) => message.includes(m))) return true;
  // AggregateError (a connect to every address of a name) and wrapped errors: look inside.
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.some((e) => isConnectionLoss(e))) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isConnectionLoss(cause);
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
