import type { Command } from 'commander';
import type { HealAttemptView } from '../healing/index.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward heal list`: self-healing attempts as evidence. Thin over the API. */
export interface HealCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

/** The rows `steward heal list` and `steward alert show` print. */
export function printHealAttempts(attempts: readonly HealAttemptView[]): void {
  printTable(
    ['id', 'alert', 'action', 'target', 'started', 'finished', 'outcome', 'detail'],
    attempts.map((a) => [
      a.id,
      a.alertId,
      a.action,
      a.target,
      a.startedAt,
      a.finishedAt ?? '-',
      a.outcome,
      a.detail,
    ]),
  );
}

export function healCommands(program: Command, { client, json }: HealCliContext): void {
  const heal = program.command('heal').description('self-healing actions of alert rules and their evidence');
  heal
    .command('list')
    .description('attempts, newest first: alert, action, target, started, finished, outcome, detail')
    .option('--tenant <tenant>', 'one tenant only')
    .option('--alert <id>', 'one alert only')
    .option('--limit <n>', 'at most this many (default 100, at most 1000)')
    .action(async (o: { tenant?: string; alert?: string; limit?: string }) => {
      const query = new URLSearchParams();
      if (o.tenant !== undefined) query.set('tenant', o.tenant);
      if (o.alert !== undefined) query.set('alert', o.alert);
      if (o.limit !== undefined) query.set('limit', o.limit);
      const { attempts } = await client().get<{ attempts: HealAttemptView[] }>(
        `/api/v1/healing/attempts${query.size > 0 ? `?${query.toString()}` : ''}`,
      );
      if (json()) return printJson(attempts);
      printHealAttempts(attempts);
    });
}
