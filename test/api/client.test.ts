import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/client/errors.ts';
import { fillPath, queryString } from '../../src/api/client/typed.ts';
import { clientFiles, generatedClientFiles } from '../../src/api/openapi-generate.ts';
import { ApiClient } from '../../src/cli/client.ts';
import Fastify from 'fastify';
import { route } from '../../src/api/route.ts';
import { consoleCookie, csrfHeader } from '../../src/console/session.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

describe('the typed API client', () => {
  it('is generated from the current OpenAPI document (else: npm run api:generate)', async () => {
    const fresh = await generatedClientFiles();
    expect(
      readFileSync(clientFiles.json, 'utf8') === fresh.json,
      'openapi.json is stale: run npm run api:generate',
    ).toBe(true);
    expect(
      readFileSync(clientFiles.types, 'utf8') === fresh.types,
      'schema.ts is stale: run npm run api:generate',
    ).toBe(true);
  });

  it('declares how each route authenticates: an API token or the console cookie (with the CSRF header on a change); public routes none', () => {
    const document = JSON.parse(readFileSync(clientFiles.json, 'utf8')) as {
      components: { securitySchemes: Record<string, { type: string; in?: string; name?: string }> };
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
    };
    const schemes = document.components.securitySchemes;
    expect(schemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    // The names the session code reads (console/session.ts), not a copy of them.
    expect(schemes.cookieAuth).toMatchObject({ type: 'apiKey', in: 'cookie', name: consoleCookie });
    expect(schemes.csrfToken).toMatchObject({ type: 'apiKey', in: 'header', name: csrfHeader });
    const publicRoutes: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (operation.security === undefined) {
          publicRoutes.push(`${method.toUpperCase()} ${path}`);
          continue;
        }
        const change = method !== 'get';
        expect(operation.security, `${method} ${path}`).toEqual([
          { bearer: [] },
          change ? { cookieAuth: [], csrfToken: [] } : { cookieAuth: [] },
        ]);
      }
    }
    expect(publicRoutes.sort()).toEqual([
      'GET /api/v1/health',
      'POST /api/v1/auth/login',
      'POST /api/v1/auth/tenant-admin/accept',
      'POST /api/v1/console/login',
    ]);
  });

  it('fills path parameters and query strings, escaping them', () => {
    expect(fillPath('/api/v1/tenants/{tenant}/stages/{stage}', { tenant: 'a b', stage: 'prod' })).toBe(
      '/api/v1/tenants/a%20b/stages/prod',
    );
    expect(() => fillPath('/api/v1/tenants/{tenant}', {})).toThrow(/needs parameter tenant/);
    expect(queryString({ limit: 50, cursor: undefined, phase: ['ready', 'failed'] })).toBe(
      '?limit=50&phase=ready&phase=failed',
    );
    expect(queryString({})).toBe('');
  });

  it('fails a response that breaks its contract, naming the route and the field', async () => {
    const app = Fastify();
    route(app, () => Promise.reject(new Error('no tokens here')), {
      method: 'GET',
      url: '/api/v1/health',
      summary: 'a health route that lies',
      tags: ['test'],
      permission: 'public',
      handler: () => Promise.resolve({ status: 'fine', version: 1 }),
    });
    const response = await app.inject({ method: 'GET', url: '/api/v1/health' });
    await app.close();
    expect(response.statusCode).toBe(500);
    expect(response.body).toMatch(/GET \/api\/v1\/health breaks its contract: status: .*; version: /);
  });

  describe('against a real API', () => {
    let t: TestSteward;
    let client: ApiClient;
    beforeAll(async () => {
      t = await startTestSteward();
      client = new ApiClient({ apiUrl: await t.steward.start(), token: t.token });
    });
    afterAll(() => t?.close());

    it('returns typed bodies and throws ApiError with the API error shape', async () => {
      const health = await client.api.get('/api/v1/health');
      expect(health.status).toBe('ok');
      expect(health.version).toMatch(/^\d+\.\d+\.\d+/);
      const missing = await client.api
        .get('/api/v1/tenants/{tenant}', { params: { tenant: 'nobody-here' } })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(missing).toBeInstanceOf(ApiError);
      expect((missing as ApiError).status).toBe(404);
      expect((missing as ApiError).body.code).toBe('not_found');
      expect((missing as ApiError).body.message).toMatch(/nobody-here/);
    });

    it('checks each response against its contract under tests', () => {
      expect(process.env.STEWARD_CHECK_RESPONSES).toBe('1');
    });
  });
});
