import { DataPlane, dataPlaneDir, type StageTraffic } from '../dataplane/index.ts';
import { createGatewayMetrics } from '../gateway/metrics.ts';
import { scimHandler } from '../identity/scim/index.ts';
import type { StewardMetrics } from '../metrics/index.ts';
import type { Services } from '../services.ts';
import type { ControlStore } from '../store/db.ts';
import type { CertificateAuthority } from '../tls/ca.ts';
import type { StewardOptions, StewardRole } from './options.ts';

const caCertSecret = 'gateway/ca-cert';
const caKeySecret = 'gateway/ca-key';

/** What the data plane is wired to: the process's store, services and metrics. */
export interface DataPlaneParts {
  readonly role: StewardRole;
  readonly store: ControlStore;
  readonly services: Services;
  readonly metrics: StewardMetrics;
  /** The stages' instances as HAProxy's servers (a process that runs stages). */
  readonly traffic: StageTraffic | undefined;
  readonly consoleHost: string;
}

/**
 * The data plane (HAProxy) of this process, not yet started, and the
 * certificate of the CA it issues from (checks through the gateway trust it).
 */
export async function createDataPlane(
  o: StewardOptions,
  gateway: NonNullable<StewardOptions['gateway']>,
  parts: DataPlaneParts,
): Promise<{ readonly dataPlane: DataPlane; readonly caPem: string }> {
  const { config, logger } = o;
  const { role, store, services, metrics, traffic } = parts;
  const status = services.status;
  let caPem = '';
  const dataPlane = new DataPlane({
    dir: dataPlaneDir(config.dataDir, role),
    settings: config.gateway,
    db: store.db,
    pool: store.pool,
    secrets: services.secrets,
    ca: await sharedGatewayCa(services.secrets, store.db, gateway.ca, role).then((ca) => {
      caPem = ca.certPem;
      return ca;
    }),
    logger,
    site: (host) => status.site(host),
    scim: scimHandler({
      service: services.scim,
      tokens: services.scimTokens,
      baseDomain: config.gateway.baseDomain,
      logger: logger.child({ component: 'scim' }),
    }),
    stewardHosts: [status.host],
    consoleHost: parts.consoleHost,
    auth: services.sessions,
    paths: { auth: services.authPages.handler },
    registry: metrics.registry,
    accessLog: {
      requests: createGatewayMetrics({ registry: metrics.registry }),
      registry: metrics.registry,
      log: logger.child({ component: 'gateway-access' }),
    },
    ...(traffic
      ? {
          servers: traffic.endpoints,
          exclusive: traffic.exclusive,
          activator: await traffic.activator.listen(),
        }
      : {}),
    ...(gateway.anyPortIfTaken ? { anyPortIfTaken: gateway.anyPortIfTaken } : {}),
    ...(gateway.haproxyBinary ? { binary: gateway.haproxyBinary } : {}),
  });
  return { dataPlane, caPem };
}

/**
 * Every gateway issues from one CA, so that clients trust one ca.pem: the
 * Steward that runs the API publishes its CA in the secrets store (sealed
 * like any secret), and a gateway-only process on another machine uses it.
 */
async function sharedGatewayCa(
  secrets: Services['secrets'],
  db: ControlStore['db'],
  local: CertificateAuthority,
  role: StewardRole,
): Promise<CertificateAuthority> {
  if (role === 'gateway') {
    try {
      return { certPem: await secrets.get(caCertSecret), keyPem: await secrets.get(caKeySecret) };
    } catch {
      return local;
    }
  }
  const published = await secrets.get(caCertSecret).catch(() => undefined);
  if (published !== local.certPem) {
    await db.transaction().execute(async (tx) => {
      await secrets.put(tx, caKeySecret, local.keyPem);
      await secrets.put(tx, caCertSecret, local.certPem);
    });
  }
  return local;
}
