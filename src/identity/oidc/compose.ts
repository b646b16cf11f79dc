import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb } from '../../store/db.ts';
import type { LoginLog } from '../contracts.ts';
import { idpFetch } from './http.ts';
import type { OidcDirectory } from './join.ts';
import { OidcService } from './service.ts';
import { OidcStore } from './store.ts';

export interface OidcModule {
  readonly store: OidcStore;
  readonly signIn: OidcService;
}

export interface OidcModuleDependencies {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  /** PEM file of CAs trusted for requests to identity providers, besides the system's (config identity.idpCaFile). */
  readonly idpCaFile: string | undefined;
  readonly publicPort: () => number | undefined;
  /** The login log (src/identity/local/). */
  readonly loginLog: LoginLog;
  /** The directory's users, as the join sees them (directoryJoin). */
  readonly directory: OidcDirectory;
}

/** The OIDC module's wiring, for services.ts. */
export async function createOidcModule(deps: OidcModuleDependencies): Promise<OidcModule> {
  const store = new OidcStore(deps.db, deps.secrets, deps.audit, deps.clock);
  const logger = deps.logger.child({ component: 'oidc' });
  const signIn = new OidcService({
    store,
    directory: deps.directory,
    loginLog: deps.loginLog,
    keys: deps.secrets.masterKeys(),
    fetch: idpFetch({ extraCaPem: deps.idpCaFile ? await readFile(deps.idpCaFile, 'utf8') : undefined }),
    clock: deps.clock,
    logger,
    publicPort: deps.publicPort,
  });
  return { store, signIn };
}
