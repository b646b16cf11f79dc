import { z } from 'zod';
import { auditContracts } from './audit.ts';
import { backupContracts } from './backups.ts';
import { checkContracts } from './checks.ts';
import { drillContracts } from './drills.ts';
import { exportContracts } from './exports.ts';
import { gatewayContracts } from './gateway.ts';
import { healingContracts } from './healing.ts';
import { nodeLossContracts } from './node-loss.ts';
import { nodeContracts } from './nodes.ts';
import { releaseContracts } from './releases.ts';
import { restoreContracts } from './restores.ts';
import { runtimeContracts } from './runtime.ts';
import { tenantContracts } from './tenants.ts';
import { systemContracts } from './system.ts';

/**
 * What each route answers: a zod schema of its JSON body after serialisation
 * (dates as ISO strings), keyed by method and the route's Fastify url. route()
 * puts it into the OpenAPI document (so the typed client in src/api/client/
 * knows every response), and under vitest checks every response against it.
 * One file per routes file; each exports a ContractMap merged here.
 */
export type ContractMap = Readonly<Record<string, z.ZodType>>;

export const contracts: ContractMap = {
  ...auditContracts,
  ...backupContracts,
  ...checkContracts,
  ...drillContracts,
  ...exportContracts,
  ...gatewayContracts,
  ...healingContracts,
  ...nodeLossContracts,
  ...nodeContracts,
  ...releaseContracts,
  ...restoreContracts,
  ...runtimeContracts,
  ...tenantContracts,
  ...systemContracts,
};

/**
 * Routes with no JSON contract, and why: streams, downloads, redirects.
 * The contract test fails for any other route without one.
 */
export const uncontracted: ReadonlyMap<string, string> = new Map<string, string>([]);

export function contractOf(method: string, url: string): z.ZodType | undefined {
  const key = `${method} ${url}`;
  return Object.hasOwn(contracts, key) ? contracts[key] : undefined;
}

/** The API's one error shape (core/errors.ts ErrorBody). */
export const errorBodySchema = z.object({
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
  retryAfterSeconds: z.number().optional(),
});
