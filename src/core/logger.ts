import pino, { type DestinationStream, type Logger } from 'pino';
import { isConnectionLoss } from './retry.ts';

/**
 * Log lines never carry secrets: known secret-bearing keys are censored
 * wherever they appear, and request logs keep no headers.
 */
export const redactedPaths = [
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'secret',
  'databaseUrl',
  'authorization',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.token',
  '*.secret',
  '*.databaseUrl',
  '*.authorization',
  'req.headers',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'steward' },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({
          method: req.method,
          url: req.url?.split('?')[0],
          id: req.id,
        }),
      },
    },
    destination,
  );
}

/**
 * A periodic pass that failed. A lost database connection goes to debug: the
 * control database watchdog says once that the database is gone, each restart
 * attempt, and when it is back, so that every pass of every loop does not
 * repeat it each tick. Anything else is logged at `level`, every time.
 */
export function logPassFailure(
  logger: Logger,
  error: unknown,
  message: string,
  fields: Readonly<Record<string, unknown>> = {},
  level: 'warn' | 'error' = 'warn',
): void {
  const err = error instanceof Error ? error.message : String(error);
  if (isConnectionLoss(error)) logger.debug({ ...fields, err }, message);
  else logger[level]({ ...fields, err }, message);
}
