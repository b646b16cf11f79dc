import type { Command } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward heal list`: self-healing attempts as evidence. Thin over the API. */
export interface HealCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

/** A self-healing attempt, as the API shows it. */
export type HealAttempt = ResponseBody<paths, '/api/v1/healing/attempts'>['attempts'][number];

/** The rows `steward heal list` and `steward alert show` print. */
export function printHealAttempts(attempts: readonly HealAttempt[]): void {
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
    .option('--limit <n>', 'at most this many (default 100, at most 500)')
    .action(async (o: { tenant?: string; alert?: string; limit?: string }) => {
      const query = {
        ...(o.tenant !== undefined ? { tenant: o.tenant } : {}),
        ...(o.alert !== undefined ? { alert: o.alert } : {}),
      };
      // --limit asks for one page of at most that many; else every attempt.
      const attempts =
        o.limit === undefined
          ? await client().api.all('/api/v1/healing/attempts', { query })
          : (
              await client().api.get('/api/v1/healing/attempts', {
                query: { ...query, limit: Number(o.limit) },
              })
            ).attempts;
      if (json()) return printJson(attempts);
      printHealAttempts(attempts);
    });
}
