import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { actorName, systemPrincipal } from '../core/policy.ts';
import { describeIsolation, StageSandbox } from '../runtime/sandbox/index.ts';
import type { Services } from '../services.ts';
import type { StewardOptions } from './options.ts';

/** The stages' sandbox, not yet open: stop() closes it even when opening failed halfway. */
export function stageSandbox(o: StewardOptions): StageSandbox {
  return new StageSandbox({
    dataDir: o.config.dataDir,
    ...o.config.runtime,
    nodeBinDir: dirname(process.execPath),
    logger: o.logger.child({ component: 'sandbox' }),
  });
}

/** Opens the sandbox (its network table applied) and logs how isolated stages are. */
export async function openSandbox(sandbox: StageSandbox, logger: Logger): Promise<void> {
  const report = await sandbox.open();
  if (report.level === 'full') logger.info({ isolation: report }, describeIsolation(report));
  else logger.warn({ isolation: report }, describeIsolation(report));
}

/** Evidence: how isolated stages were from this start on (the TOMs report reads the newest). */
export async function recordIsolation(services: Services): Promise<void> {
  const report = services.isolation;
  await services.audit.recordAlone({
    actor: actorName(systemPrincipal),
    action: 'system.isolation',
    target: 'system/isolation',
    outcome: report.level === 'full' ? 'success' : 'failure',
    details: { ...report },
  });
}
