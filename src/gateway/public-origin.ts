/**
 * Where end users reach a tenant's hosts: `https://<host>[:port]`, the port
 * being the one the data plane actually listens on (known once it started;
 * `gateway.port: 0` picks one at start), else the configured one; 443 is
 * left out. Mailed links, break-glass links and the SCIM base URL are built
 * here, so that each names a port the edge answers on.
 */
export interface PublicEdge {
  /** The edge's HTTPS port, when known (undefined: not listening yet and none configured). */
  port(): number | undefined;
  /** `https://<tenant>.<base>[:port]`: the tenant's apex host (its prod stage). */
  tenantOrigin(tenant: string): string;
  /** `https://<stage>.<tenant>.<base>[:port]`. */
  stageOrigin(tenant: string, stage: string): string;
  /** `https://console.<base>[:port]`: the console ('console' is no tenant's slug). */
  consoleOrigin(): string;
}

/** `https://<host>` with `:port` unless the port is 443 or unknown (pure). */
export function edgeOrigin(host: string, port: number | undefined): string {
  return `https://${host}${port === undefined || port === 443 ? '' : `:${port}`}`;
}

export function publicEdge(options: {
  readonly baseDomain: string;
  readonly configuredPort: number;
  /** The port the data plane of this process listens on, once it does. */
  readonly listening: () => number | undefined;
}): PublicEdge {
  const port = (): number | undefined => {
    const listening = options.listening();
    if (listening !== undefined && listening > 0) return listening;
    return options.configuredPort > 0 ? options.configuredPort : undefined;
  };
  return {
    port,
    tenantOrigin: (tenant) => edgeOrigin(`${tenant}.${options.baseDomain}`, port()),
    stageOrigin: (tenant, stage) => edgeOrigin(`${stage}.${tenant}.${options.baseDomain}`, port()),
    consoleOrigin: () => edgeOrigin(`console.${options.baseDomain}`, port()),
  };
}
