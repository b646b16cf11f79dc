import type pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config.ts';
import type { GatewayMetrics } from '../gateway/metrics.ts';
import type { ControlDb } from '../store/db.ts';
import type { CertificateAuthority } from '../tls/ca.ts';
import type { EdgeAuthSource } from './auth-files.ts';
import type { Listen, StageServer } from './config.ts';
import type { Exclusive } from './exclusive.ts';
import type { PageHandler } from './steward-pages.ts';

/** What the data plane's controller (controller.ts) is given, and the address it listens on. */

export type GatewaySettings = Config['gateway'];

export interface SecretReader {
  get(name: string): Promise<string>;
}

/**
 * The app instances of each stage backend now (the endpoints' dynamic
 * servers): every reload renders them into the config, or it would drop them.
 */
export interface ServerSource {
  servers(backend: string): readonly StageServer[];
  /** Rebuilds the view from HAProxy: called on adopting a running one, before its config is rendered again. */
  refresh?(): Promise<void>;
}

export interface DataPlaneOptions {
  /** The data plane's own directory (dataPlaneDir): one controller and one HAProxy each. */
  readonly dir: string;
  readonly settings: GatewaySettings;
  readonly db: ControlDb;
  /** LISTEN needs a session of its own; it is taken from this pool and kept. */
  readonly pool: pg.Pool;
  readonly secrets: SecretReader;
  readonly ca: CertificateAuthority;
  readonly logger: Logger;
  /** Steward's own pages for a host (the status page). */
  readonly site?: (host: string) => PageHandler | undefined;
  /** SCIM 2.0 (identity/scim/): `/scim/v2` on each tenant's apex host is sent to it. */
  readonly scim?: PageHandler;
  /** Hosts routed to Steward's own pages (`status.<base>`). */
  readonly stewardHosts?: readonly string[];
  /** The console's host (`console.<base>`): routed to Steward's API once useConsole() names it. */
  readonly consoleHost?: string;
  /**
   * The stages' app instances as dynamic servers (the HAProxy stage
   * endpoints). Without it each stage backend has one server, the stage's
   * published port (the Node stage proxy of the runtime's default endpoints).
   */
  readonly servers?: ServerSource;
  /** Shared with the stage endpoints: no server change lands between a render and its reload. */
  readonly exclusive?: Exclusive;
  /** Where `steward_dataplane_reloads_total` is registered. */
  readonly registry?: Registry;
  /** Which ports, when taken, move to a free one instead of failing (`steward up`'s defaults). */
  readonly anyPortIfTaken?: { readonly port: boolean; readonly httpPort: boolean };
  /** The access log into Steward (the gateway metrics, the log); none: HAProxy logs nothing. */
  readonly accessLog?: {
    /** steward_gateway_requests_total and its duration histogram. */
    readonly requests: Pick<GatewayMetrics, 'observeRequest'>;
    /** Where the receiver's own counter goes. */
    readonly registry: Registry;
    /** Each request's record, at info. */
    readonly log?: Logger;
  };
  /** The activator (scale to zero), when the stage endpoints run one. */
  readonly activator?: Listen;
  readonly binary?: string;
  /** End users' sessions checked at the edge (issue 13): keys, sign-in modes, revoked sessions. */
  readonly auth?: EdgeAuthSource;
  /** Handlers for `/.steward/<name>/…` on every host (the sign-in pages under `auth`). */
  readonly paths?: Readonly<Record<string, PageHandler>>;
}

export interface DataPlaneAddress {
  readonly host: string;
  readonly port: number;
  readonly httpPort: number;
  /** https://<baseDomain>:<port>, for messages. */
  readonly url: string;
}
