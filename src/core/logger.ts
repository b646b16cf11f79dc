import pino, { type DestinationStream, type Logger } from 'pino';

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
