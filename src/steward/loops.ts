import type { Config } from '../core/config.ts';
import type { Services } from '../services.ts';

/**
 * The order the services' own loops start and stop in, for every process
 * that serves the API (the operations loop's singletons are the elector's).
 */

/** The schedules that run on every node, started after the API is created. */
export async function startSchedules(services: Services, config: Config): Promise<void> {
  // The first checkpoint anchors what is there (events from before migration 0012 too).
  await services.auditCheckpoints.start();
  await services.backups.start();
  // Exports are logical (pg_dump): scheduled whether or not physical backups are on.
  await services.exportSchedule.start();
  // Every tenant's directory sync job: scheduled syncs resume, a run a kill -9 cut short runs again.
  await services.ldap.start();
  // Scratch instances a killed Steward left behind go; scheduled restore tests begin.
  if (config.backups.enabled) await services.restores.start();
}

/**
 * What watches the stages, stopped first: what stops after (the gateway, the
 * stages' processes) is Steward stopping, not the stages failing.
 */
export async function stopWatchers(services: Services): Promise<void> {
  await services.drills.stop();
  await services.checkRunner.stop();
  await services.watchdog.stop();
  await services.alerts.stop();
  await services.incidentNotices.stop();
  await services.healing.stop();
  await services.status.stop();
  await services.maintenance.stop();
}
