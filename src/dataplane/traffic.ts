import type { Logger } from 'pino';
import { Activator } from './activator.ts';
import { dataPlaneFiles } from './layout.ts';
import { previousActivatorPort } from './host.ts';
import { HaproxyStageEndpoints } from './endpoints.ts';
import { createExclusive, type Exclusive } from './exclusive.ts';
import { RuntimeApi } from './runtime-api.ts';

/**
 * A stage's traffic on this machine's HAProxy: its app instances as dynamic
 * servers (the runtime's StageEndpoints), the activator for stages asleep,
 * and the one exclusive section that the endpoints and the controller's
 * reloads share. Made before the controller, which renders the endpoints'
 * servers into every reload.
 */
export interface StageTraffic {
  readonly exclusive: Exclusive;
  readonly activator: Activator;
  readonly endpoints: HaproxyStageEndpoints;
}

export async function stageTraffic(
  /** The data plane's directory (dataPlaneDir). */
  dir: string,
  logger: Logger,
  /** Renders a stage's backend HAProxy does not know yet (the controller's pass). */
  ensureBackend: () => Promise<void>,
): Promise<StageTraffic> {
  const exclusive = createExclusive();
  const activator = new Activator({
    port: await previousActivatorPort(dir),
    logger: logger.child({ component: 'activator' }),
  });
  const endpoints = new HaproxyStageEndpoints({
    api: new RuntimeApi(dataPlaneFiles(dir).adminSocket),
    activator,
    exclusive,
    ensureBackend,
    logger: logger.child({ component: 'endpoints' }),
  });
  return { exclusive, activator, endpoints };
}
