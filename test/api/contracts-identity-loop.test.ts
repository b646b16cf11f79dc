import { describe, expect, it } from 'vitest';
import { contracts, uncontracted } from '../../src/api/contracts/index.ts';
import { identityAndLoopContracts } from '../../src/api/contracts/identity-and-loop.ts';
import { openApiDocument } from '../../src/api/openapi-document.ts';

/** Identity and the operations loop (c-contracts-b): every route of theirs answers by a contract. */
const tags = new Set([
  'auth',
  'operators',
  'tokens',
  'users',
  'tenant-admins',
  'break-glass',
  'identity',
  'alerts',
  'oncall',
  'incidents',
  'sla',
  'status',
  'maintenance',
  'notifications',
]);

describe('the response contracts of identity and the operations loop', () => {
  it('give each of their routes a JSON response in the OpenAPI document, and name only routes that exist', async () => {
    const document = (await openApiDocument()) as {
      paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, any> }>>;
    };
    const routes: string[] = [];
    const missing: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        // The document's path back to the route's Fastify url: {tenant} is :tenant.
        const key = `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`;
        routes.push(key);
        if (!operation.tags?.some((tag) => tags.has(tag))) continue;
        const success = Object.entries(operation.responses ?? {}).find(([status]) => /^2\d\d$/.test(status));
        const schema = success?.[1]?.content?.['application/json']?.schema;
        if (schema === undefined || contracts[key] === undefined) {
          if (!uncontracted.has(key)) missing.push(key);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(Object.keys(identityAndLoopContracts).filter((key) => !routes.includes(key))).toEqual([]);
    expect(Object.keys(identityAndLoopContracts).length).toBeGreaterThan(100);
  });
});
