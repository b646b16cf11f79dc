import { describe, expect, it } from 'vitest';
import { contracts, uncontracted } from '../../src/api/contracts/index.ts';
import { openApiDocument } from '../../src/api/openapi-document.ts';

/** The operator's areas (c-contracts-a): every route of theirs answers by a contract, or says why not. */
const areas = [
  'tenants',
  'stages',
  'runtime',
  'releases',
  'gateway',
  'backups',
  'restores',
  'exports',
  'drills',
  'system',
  'secrets',
  'audit',
  'healing',
  'checks',
];

interface Operation {
  readonly tags?: readonly string[];
  readonly responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

describe("the operator areas' response contracts", () => {
  it('give every route a JSON response in the OpenAPI document, or name why it has none', async () => {
    const document = (await openApiDocument()) as { paths: Record<string, Record<string, Operation>> };
    const missing: string[] = [];
    let contracted = 0;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!operation.tags?.some((tag) => areas.includes(tag))) continue;
        // The document's path back to the route's Fastify url: {tenant} is :tenant.
        const key = `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`;
        const success = Object.entries(operation.responses ?? {}).find(([status]) => /^2\d\d$/.test(status));
        if (success?.[1].content?.['application/json']?.schema !== undefined) {
          expect(contracts[key], key).toBeDefined();
          contracted += 1;
        } else if (!uncontracted.has(key)) {
          missing.push(key);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(contracted).toBeGreaterThan(50);
  });

  it('keep no contract for a route that does not exist', async () => {
    const document = (await openApiDocument()) as { paths: Record<string, Record<string, unknown>> };
    const routes = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
      ),
    );
    expect(Object.keys(contracts).filter((key) => !routes.has(key))).toEqual([]);
    // /metrics is served beside the API (its own registry), so only uncontracted names it.
    expect(
      [...uncontracted.keys()].filter((key) => !routes.has(key) && !key.startsWith('GET /metrics')),
    ).toEqual([]);
  });
});
