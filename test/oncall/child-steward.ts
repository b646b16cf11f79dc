/**
 * A Steward in a process of its own, for the escalation crash test: it
 * runs with workers (the alert and escalation passes on their timers) on a
 * control database the test made, optionally raises one alert and prints
 * its id, and stops on SIGTERM. Its settings come in the environment
 * (STEWARD_TEST_CHILD, JSON), never in its arguments: they hold a password.
 */
import { join } from 'node:path';
import { parseConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/logger.ts';
import { fileKeyring } from '../../src/secrets/keyring.ts';
import { Steward } from '../../src/steward.ts';

interface ChildSettings {
  readonly config: unknown;
  readonly controlUrl: string;
  readonly adminUrl: string;
  readonly sharedClusterUrl: string;
  readonly pgBinDir: string;
  readonly raise?: string;
}

const settings = JSON.parse(process.env.STEWARD_TEST_CHILD ?? '{}') as ChildSettings;
const config = parseConfig(settings.config);
const steward = new Steward({
  config,
  controlUrl: settings.controlUrl,
  adminUrl: settings.adminUrl,
  sharedClusterUrl: settings.sharedClusterUrl,
  keyringStore: fileKeyring(join(config.dataDir, 'master.key')),
  logger: createLogger('warn'),
  pgBinDir: settings.pgBinDir,
  unsafeFastClusters: true,
});
await steward.start();
if (settings.raise) {
  const alert = await steward.services.alerts.raise({
    source: 'watchdog',
    dedupKey: settings.raise,
    severity: 'critical',
    summary: `crash test ${settings.raise}`,
  });
  process.stdout.write(`raised alert ${alert.id}\n`);
}
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void steward.stop().then(() => process.exit(0));
});
