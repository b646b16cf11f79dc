/**
 * The worker process: handles outbox events every LEDGER_WORKER_POLL_MS.
 * SIGTERM waits for the pass in flight, then exits 0.
 *
 * LEDGER_WORKER_SPIN=1 makes it burn a CPU core as well, in slices short
 * enough to still notice SIGTERM: the workload of the test that a CPU-bound
 * worker does not slow the web process of the same stage.
 */
import { ConfigError, parseConfig, type Config } from './config.ts';
import { createPool } from './db.ts';
import { createLogger, errorFields } from './log.ts';
import { runOnce } from './outbox.ts';

function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (error) {
    process.stderr.write(`ledger worker: ${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

const config = loadConfig();
const logger = createLogger(
  { process: 'worker', tenant: config.tenant, stage: config.stage, release: config.release },
  { debug: config.debug },
);
const pool = createPool(config.databaseUrl, logger, 'ledger-worker', 2);

let stopping = false;
let pass: Promise<void> | undefined;
let timer: NodeJS.Timeout | undefined;

async function tick(): Promise<void> {
  try {
    // Drain what is due, then wait for the next tick.
    while (!stopping && (await runOnce(pool, logger)) > 0);
  } catch (error) {
    logger.error('worker pass failed', errorFields(error));
  }
}

function schedule(): void {
  if (stopping) return;
  timer = setTimeout(() => {
    pass = tick().finally(() => {
      pass = undefined;
      schedule();
    });
  }, config.workerPollMs);
}

function spin(): void {
  if (stopping) return;
  const until = performance.now() + 50;
  let x = 0;
  while (performance.now() < until) x = (x * 31 + 7) % 1_000_003;
  if (x < 0) logger.debug('unreachable', { x });
  setImmediate(spin);
}

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearTimeout(timer);
  logger.info('stopping', { signal });
  await pass;
  await pool.end().catch((error: unknown) => logger.warn('closing the pool failed', errorFields(error)));
  logger.info('stopped', { signal });
  process.exit(0);
}

process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

logger.info('started', { pollMs: config.workerPollMs, spin: config.workerSpin });
pass = tick().finally(() => {
  pass = undefined;
  schedule();
});
if (config.workerSpin) setImmediate(spin);
