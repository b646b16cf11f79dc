import type { IncomingMessage, ServerResponse } from 'node:http';

/** One error shape for every refused request: { code, message, field? }. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
  toBody(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
}

export const inputError = (field: string, message: string): HttpError =>
  new HttpError(400, 'input', `${field}: ${message}`, field);
export const notFound = (message: string): HttpError => new HttpError(404, 'not_found', message);

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(html);
}

const maxJsonBytes = 64 * 1024;

/** Reads a JSON object body; anything else is a 400 naming "body". */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type))
    throw inputError('body', `expected content-type application/json, got ${JSON.stringify(type)}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxJsonBytes)
      throw new HttpError(413, 'too_large', `body is over ${maxJsonBytes} bytes`, 'body');
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw inputError('body', 'is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw inputError('body', 'expected a JSON object');
  return parsed as Record<string, unknown>;
}

/** Parses a positive integer id from a path segment. */
export function parseId(field: string, raw: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(raw))
    throw inputError(field, `${JSON.stringify(raw)} is not an id (a positive integer)`);
  return Number(raw);
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
};

export function stringField(
  body: Record<string, unknown>,
  field: string,
  options: {
    readonly required: boolean;
    readonly max: number;
    readonly pattern?: RegExp;
    readonly accepted?: string;
  },
): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (options.required) throw inputError(field, 'is required');
    return undefined;
  }
  if (typeof value !== 'string') throw inputError(field, `expected a string, got ${show(value)}`);
  const trimmed = value.trim();
  if (options.required && trimmed === '') throw inputError(field, 'must not be empty');
  if (trimmed.length > options.max) throw inputError(field, `is longer than ${options.max} characters`);
  if (options.pattern && trimmed !== '' && !options.pattern.test(trimmed))
    throw inputError(field, `${show(value)} is not ${options.accepted ?? 'accepted'}`);
  return trimmed === '' ? undefined : trimmed;
}

export function integerField(body: Record<string, unknown>, field: string, min: number, max: number): number {
  const value = body[field];
  if (value === undefined || value === null) throw inputError(field, 'is required');
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw inputError(field, `${show(value)} is not accepted; expected an integer from ${min} to ${max}`);
  return value;
}
