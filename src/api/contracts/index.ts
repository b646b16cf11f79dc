import { z } from 'zod';
import { identityAndLoopContracts } from './identity-and-loop.ts';
import { operationsContracts, operationsUncontracted } from './operations.ts';
import { systemContracts } from './system.ts';
import { consoleContracts } from './console.ts';
import { settingsContracts } from './settings.ts';

/**
 * What each route answers: a zod schema of its JSON body after serialisation
 * (dates as ISO strings), keyed by method and the route's Fastify url. route()
 * puts it into the OpenAPI document (so the typed client in src/api/client/
 * knows every response), and under vitest checks every response against it.
 * One file per routes file; each exports a ContractMap merged here.
 */
export type ContractMap = Readonly<Record<string, z.ZodType>>;

export const contracts: ContractMap = {
  ...identityAndLoopContracts,
  ...operationsContracts,
  ...systemContracts,
  ...consoleContracts,
  ...settingsContracts,
};

/**
 * Routes with no JSON contract, and why: streams, downloads, redirects.
 * The contract test fails for any other route without one.
 */
export const uncontracted: ReadonlyMap<string, string> = new Map<string, string>([
  ...operationsUncontracted,
  ['GET /api/v1/events', 'a text/event-stream of change events (src/events/)'],
]);

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
