/**
 * Typed errors with a stable code. One handler in the API maps them to HTTP;
 * the CLI prints the same message. Foreign errors are wrapped at module
 * boundaries with the original kept as `cause`.
 */
export const errorCodes = [
  'input',
  'not_found',
  'conflict',
  'forbidden',
  'unauthorized',
  'rate_limited',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
}

export abstract class StewardError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly status: number;
  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.field = options.field;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
}

/** Bad input: names the field, the value and what would be accepted. */
export class InputError extends StewardError {
  readonly code = 'input';
  readonly status = 400;
}

export class NotFoundError extends StewardError {
  readonly code = 'not_found';
  readonly status = 404;
}

export class ConflictError extends StewardError {
  readonly code = 'conflict';
  readonly status = 409;
}

export class ForbiddenError extends StewardError {
  readonly code = 'forbidden';
  readonly status = 403;
}

export class UnauthorizedError extends StewardError {
  readonly code = 'unauthorized';
  readonly status = 401;
}

export class RateLimitedError extends StewardError {
  readonly code = 'rate_limited';
  readonly status = 429;
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
  override toBody(): ErrorBody {
    return { ...super.toBody(), retryAfterSeconds: this.retryAfterSeconds };
  }
}

export class UnavailableError extends StewardError {
  readonly code = 'unavailable';
  readonly status = 503;
}

/** A failure in Steward itself or a dependency it could not classify. */
export class InternalError extends StewardError {
  readonly code = 'internal';
  readonly status = 500;
}

export function isStewardError(error: unknown): error is StewardError {
  return error instanceof StewardError;
}

/** Normalises anything thrown into an Error, without losing the original. */
export function coerceError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(typeof error === 'string' ? error : JSON.stringify(error));
}

/** Shows a user-supplied value inside an error message, quoted and bounded. */
export function showValue(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const bounded = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  // Escape everything outside printable ASCII, so a look-alike ("\u0430cme") shows what it is.
  return JSON.stringify(bounded).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
