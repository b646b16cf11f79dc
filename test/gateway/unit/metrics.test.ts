import { describe, expect, it } from 'vitest';
import { createGatewayMetrics, statusClass } from '../../../src/gateway/metrics.ts';

describe('status classes', () => {
  it.each([
    [101, '1xx'],
    [200, '2xx'],
    [204, '2xx'],
    [301, '3xx'],
    [404, '4xx'],
    [421, '4xx'],
    [429, '4xx'],
    [500, '5xx'],
    [504, '5xx'],
    [0, '5xx'],
    [99, '5xx'],
    [600, '5xx'],
  ])('%d → %s', (status, cls) => expect(statusClass(status)).toBe(cls));
});

describe('gateway metrics', () => {
  it('counts requests per tenant, stage and status class, with latency buckets from 1 ms to 10 s', async () => {
    const metrics = createGatewayMetrics();
    metrics.observeRequest({ tenant: 'acme', stage: 'prod', status: 200, durationSeconds: 0.004 });
    metrics.observeRequest({ tenant: 'acme', stage: 'prod', status: 201, durationSeconds: 0.02 });
    metrics.observeRequest({ tenant: 'acme', stage: 'test', status: 502, durationSeconds: 12 });
    metrics.observeRequest({ status: 404, durationSeconds: 0.0001 });
    const text = await metrics.render();
    expect(text).toContain('steward_gateway_requests_total{tenant="acme",stage="prod",status_class="2xx"} 2');
    expect(text).toContain('steward_gateway_requests_total{tenant="acme",stage="test",status_class="5xx"} 1');
    expect(text).toContain('steward_gateway_requests_total{tenant="none",stage="none",status_class="4xx"} 1');
    expect(text).toContain(
      'steward_gateway_request_duration_seconds_bucket{le="0.001",tenant="none",stage="none"} 1',
    );
    expect(text).toContain(
      'steward_gateway_request_duration_seconds_bucket{le="0.005",tenant="acme",stage="prod"} 1',
    );
    expect(text).toContain(
      'steward_gateway_request_duration_seconds_bucket{le="0.025",tenant="acme",stage="prod"} 2',
    );
    expect(text).toContain(
      'steward_gateway_request_duration_seconds_bucket{le="10",tenant="acme",stage="test"} 0',
    );
    expect(text).toContain(
      'steward_gateway_request_duration_seconds_bucket{le="+Inf",tenant="acme",stage="test"} 1',
    );
    expect(text).toContain('steward_gateway_request_duration_seconds_count{tenant="acme",stage="prod"} 2');
  });

  it('never labels a series with a host or a path', async () => {
    const metrics = createGatewayMetrics();
    metrics.observeRequest({ tenant: 'acme', stage: 'prod', status: 200, durationSeconds: 0.01 });
    const text = await metrics.render();
    const labels = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]));
    expect(labels.size).toBeGreaterThan(0);
    for (const label of labels)
      expect(['le', 'reason', 'scope', 'stage', 'status_class', 'tenant']).toContain(label);
  });

  it('keeps two gateways in one process apart and takes a prefix', async () => {
    const a = createGatewayMetrics();
    const b = createGatewayMetrics({ prefix: 'edge_' });
    a.observeRequest({ tenant: 'acme', stage: 'prod', status: 200, durationSeconds: 0.01 });
    expect(await b.render()).not.toContain('tenant="acme"');
    expect(await b.render()).toContain('# TYPE edge_requests_total counter');
    expect(a.contentType).toMatch(/^text\/plain/);
  });
});
