import { describe, expect, it } from 'vitest';
import { edgeOrigin, publicEdge } from '../../../src/gateway/index.ts';

describe('the public edge origin', () => {
  it('names the port the data plane listens on, else the configured one, and leaves 443 and 0 out', () => {
    const dataPlane: { port?: number } = {};
    const edge = publicEdge({
      baseDomain: 'apps.example',
      configuredPort: 0,
      listening: () => dataPlane.port,
    });
    expect(edge.tenantOrigin('acme')).toBe('https://acme.apps.example');
    expect(edge.port()).toBeUndefined();
    dataPlane.port = 40443;
    expect(edge.tenantOrigin('acme')).toBe('https://acme.apps.example:40443');
    expect(edge.stageOrigin('acme', 'dev')).toBe('https://dev.acme.apps.example:40443');
    const configured = publicEdge({
      baseDomain: 'apps.example',
      configuredPort: 443,
      listening: () => undefined,
    });
    expect(configured.stageOrigin('acme', 'prod')).toBe('https://prod.acme.apps.example');
    expect(configured.port()).toBe(443);
    expect(edgeOrigin('acme.apps.example', 8443)).toBe('https://acme.apps.example:8443');
  });
});
