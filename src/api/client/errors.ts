/**
 * The API's one error shape, as a client sees it: `code` says what kind
 * (input, not_found, conflict, …), `field` names the input it concerns.
 * No Node imports: the console bundles this file.
 */
export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;
  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.status = status;
    this.body = body;
  }
}

/** A response body that is not the error shape (a proxy's HTML page, say) still becomes one. */
export function errorBodyOf(status: number, body: unknown): ApiErrorBody {
  if (typeof body === 'object' && body !== null && typeof (body as ApiErrorBody).message === 'string') {
    const { code, message, field, retryAfterSeconds } = body as ApiErrorBody;
    return {
      code: typeof code === 'string' ? code : 'internal',
      message,
      ...(typeof field === 'string' ? { field } : {}),
      ...(typeof retryAfterSeconds === 'number' ? { retryAfterSeconds } : {}),
    };
  }
  const text = typeof body === 'string' ? body.slice(0, 500) : '';
  return { code: status >= 500 ? 'internal' : 'input', message: text || `the API answered ${status}` };
}
