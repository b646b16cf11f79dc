import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsRoutes } from '../../../src/api/routes/metrics.ts';
import type { Authenticator } from '../../../src/api/route.ts';
import { UnauthorizedError } from '../../../src/core/errors.ts';
import { systemPrincipal } from '../../../src/core/policy.ts';
import { createGatewayMetrics } from '../../../src/gateway/metrics.ts';

describe('GET /metrics', () => {
  const metrics = createGatewayMetrics();
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    const auth: Authenticator = (token) =>
      token === 'stw_good' ? Promise.resolve(systemPrincipal) : Promise.reject(new UnauthorizedError('no'));
    metricsRoutes(app, auth, metrics);
    await app.ready();
    metrics.observeRequest({ tenant: 'acme', stage: 'prod', status: 200, durationSeconds: 0.003 });
  });
  afterAll(() => app.close());

  it.each([
    ['a token', { authorization: 'Bearer stw_good' }, 200],
    ['a wrong token', { authorization: 'Bearer stw_bad' }, undefined],
    ['no token', {}, undefined],
  ])('with %s', async (_name, headers, status) => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers });
    if (status === 200) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.body).toContain(
        'steward_gateway_requests_total{tenant="acme",stage="prod",status_class="2xx"} 1',
      );
    } else {
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.body).not.toContain('steward_gateway');
    }
  });
});
