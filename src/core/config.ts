import { z } from 'zod';
import { gatewayLimitsSchema } from '../gateway/limits.ts';
import { InputError, showValue } from './errors.ts';

/**
 * Steward's configuration: parsed once, at start, into a resolved object.
 * Defaults live here and nowhere else.
 */
export const regionSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
    geography: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  })
  .strict();

export const configSchema = z
  .object({
    dataDir: z.string().min(1),
    /** The control database; when absent Steward runs its own cluster under dataDir. */
    databaseUrl: z.string().url().optional(),
    /** Owner connection for migrations; defaults to databaseUrl. */
    databaseAdminUrl: z.string().url().optional(),
    /** Superuser connection to the cluster that holds shared-tier stages. */
    sharedClusterUrl: z.string().url().optional(),
    api: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8440),
      })
      .strict()
      .prefault({}),
    /** The TLS edge for end users: one HTTPS listener, and a plain HTTP one that only redirects. */
    gateway: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8443),
        /** Plain HTTP, answering only 308 redirects to HTTPS; 0 disables it. */
        httpPort: z.number().int().min(0).max(65535).default(8080),
        /** Stages are reached at <stage>.<tenant>.<baseDomain>, prod also at <tenant>.<baseDomain>. */
        baseDomain: z
          .string()
          .regex(/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/)
          .default('localhost'),
        /** Seconds between full reloads of the route table (NOTIFY applies changes at once). */
        resyncSeconds: z.number().int().min(1).max(300).default(5),
        /** How long the gateway waits for a stage's response headers before a 504. */
        upstreamTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
        /** HSTS max-age in seconds. */
        hstsMaxAgeSeconds: z.number().int().min(0).default(31_536_000),
        /** Limits on clients (sizes, timeouts, connections and rates per address and tenant); defaults in gateway/limits.ts. */
        limits: gatewayLimitsSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    regions: z
      .array(regionSchema)
      .min(1)
      .default([{ name: 'local', geography: 'local' }]),
    defaultRegion: z.string().default('local'),
    defaultStages: z.array(z.string()).min(1).default(['dev', 'test', 'prod']),
    /** Prefix of every database and role Steward creates in a cluster it shares with others. */
    instancePrefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,6}_$/)
      .default('st_'),
    /** How many stages the reconciler works on at once. */
    reconcileConcurrency: z.number().int().min(1).max(64).default(4),
    /** Seconds between full resyncs of desired and observed state. */
    resyncSeconds: z.number().int().min(1).default(30),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    login: z
      .object({
        maxFailuresPerAccount: z.number().int().min(1).default(5),
        lockoutSeconds: z.number().int().min(1).default(900),
        maxFailuresPerAddress: z.number().int().min(1).default(20),
        addressWindowSeconds: z.number().int().min(1).default(900),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type Region = z.output<typeof regionSchema>;

export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (result.success) {
    const config = result.data;
    if (!config.regions.some((r) => r.name === config.defaultRegion)) {
      throw new InputError(
        `config field defaultRegion: ${showValue(config.defaultRegion)} is not one of the regions (${config.regions.map((r) => r.name).join(', ')})`,
        { field: 'defaultRegion' },
      );
    }
    return config;
  }
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw new InputError(`config field ${field || '(root)'}: ${issue?.message ?? 'invalid'}`, { field });
}

/** The JSON schema for editors, generated from the same zod schema. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input' });
}
