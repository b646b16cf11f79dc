import pino from 'pino';
import { AuditKeys } from '../../../src/audit/integrity.ts';
import { AuditService } from '../../../src/audit/service.ts';
import { systemClock } from '../../../src/core/clock.ts';
import { Directory } from '../../../src/identity/directory/index.ts';
import { LdapReader, LdapSyncService } from '../../../src/identity/ldap/index.ts';
import { fileKeyring } from '../../../src/secrets/keyring.ts';
import { SecretService } from '../../../src/secrets/service.ts';
import { openControlStore } from '../../../src/store/db.ts';

/**
 * A process of its own that runs one directory sync of a tenant, as a
 * Steward's job would: sync.test.ts kills it with SIGKILL halfway through.
 * argv: control database URL, keyring file, tenant id.
 */
const [controlUrl, keyringFile, tenantId] = process.argv.slice(2);
if (!controlUrl || !keyringFile || !tenantId)
  throw new Error('usage: crash-child <control url> <keyring> <tenant id>');
const store = openControlStore(controlUrl, { max: 2, applicationName: 'ldap-crash-child' });
const keyringStore = fileKeyring(keyringFile);
const secrets = new SecretService(store.db, keyringStore, await keyringStore.load());
const logger = pino({ level: 'silent' });
const audit = new AuditService({
  db: store.db,
  clock: systemClock,
  keys: new AuditKeys(secrets.masterKeys()),
  checkpointStores: () => Promise.resolve([]),
  logger,
});
const ldap = new LdapSyncService({
  db: store.db,
  directory: new Directory({ db: store.db, logger }),
  secrets,
  audit,
  clock: systemClock,
  logger,
  reader: new LdapReader({ allowLoopback: true }),
});
await ldap.syncNow(tenantId, 'request', 'operator:crash-child');
await store.close();
