/**
 * Structured log lines, one JSON object per line on stdout, which Steward
 * collects per process. Callers pass fields, never a connection string.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Strips credentials from anything that looks like a URL with a password. */
function redact(text: string): string {
  return text.replace(/(\w+:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
}

export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { error: redact(error.message), ...(typeof code === 'string' ? { code } : {}) };
  }
  return { error: redact(String(error)) };
}

export function createLogger(
  base: Record<string, unknown>,
  options: { readonly debug?: boolean; readonly write?: (line: string) => void } = {},
): Logger {
  const min = options.debug ? order.debug : order.info;
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const log = (level: Level, msg: string, fields: Record<string, unknown> = {}): void => {
    if (order[level] < min) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
    write(redact(line) + '\n');
  };
  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
}
