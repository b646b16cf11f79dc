import type { Command } from 'commander';
import type { z } from 'zod';
import type { AlertStatus } from '../alerts/contract.ts';
import type { alertViewSchema, silenceViewSchema } from '../api/contracts/alerts.ts';
import { numberArg } from './args.ts';
import type { ApiClient } from './client.ts';
import { printHealAttempts } from './heal-commands.ts';
import { printJson, printTable } from './output.ts';

/**
 * `steward alert list|show|ack|resolve|rules`, `steward silence
 * add|list|remove` (maintenance: maintenance-commands.ts): thin over the API,
 * which checks every value.
 */
export interface AlertCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

function where(a: { tenant: string | null; stage: string | null }): string {
  if (a.tenant === null) return 'steward';
  return a.stage === null ? a.tenant : `${a.tenant}/${a.stage}`;
}

function showAlert(a: z.output<typeof alertViewSchema>): void {
  const lines: [string, string | null][] = [
    [
      'alert',
      `${a.id} ${a.status}${a.flapping ? ' (flapping)' : ''}${a.mutedBy ? ` (muted by ${a.mutedBy})` : ''}`,
    ],
    ['summary', a.summary],
    ['severity', a.severity],
    ['where', where(a)],
    ['rule', a.rule ?? `- (raised by ${a.source})`],
    ['started', a.startedAt],
    ['fired', a.firedAt],
    ['first told', a.firstNotifiedAt],
    ['acknowledged', a.acknowledgedAt ? `${a.acknowledgedAt} by ${a.acknowledgedBy ?? '?'}` : null],
    ['resolved', a.resolvedAt ? `${a.resolvedAt} by ${a.resolvedBy ?? '?'}: ${a.resolveNote ?? ''}` : null],
  ];
  for (const [name, value] of lines) process.stdout.write(`${name.padEnd(13)}${value ?? '-'}\n`);
  for (const [key, value] of Object.entries(a.details)) {
    process.stdout.write(`${key.padEnd(13)}${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
  }
}

function windowRows(windows: readonly z.output<typeof silenceViewSchema>[]): unknown[][] {
  return windows.map((w) => [
    w.id,
    w.tenant,
    w.stage ?? '(all)',
    w.startsAt,
    w.endsAt,
    w.createdBy,
    w.reason,
  ]);
}

function muteBody(o: { tenant: string; stage?: string; for?: string; until?: string; reason: string }) {
  return {
    tenant: o.tenant,
    ...(o.stage !== undefined ? { stage: o.stage } : {}),
    ...(o.for !== undefined ? { for: o.for } : {}),
    ...(o.until !== undefined ? { until: o.until } : {}),
    reason: o.reason,
  };
}

export function alertCommands(program: Command, { client, json }: AlertCliContext): void {
  const alert = program.command('alert').description('alerts: list, show, acknowledge, resolve; the rules');
  alert
    .command('list')
    .description('alerts, newest first')
    .option('--open', 'open ones only (pending, firing, acknowledged)')
    .option('--tenant <tenant>', "one tenant's")
    .option('--stage <stage>', "one stage's (with --tenant)")
    .option('--status <status>', 'pending, firing, acknowledged or resolved')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(
      async (o: { open?: boolean; tenant?: string; stage?: string; status?: string; limit?: string }) => {
        const { alerts } = await client().api.get('/api/v1/alerts', {
          query: {
            ...(o.open ? { open: 'true' as const } : {}),
            tenant: o.tenant,
            stage: o.stage,
            // The API names the statuses it accepts.
            status: o.status as AlertStatus | undefined,
            ...(o.limit !== undefined ? { limit: numberArg(o.limit) } : {}),
          },
        });
        if (json()) return printJson(alerts);
        printTable(
          ['id', 'status', 'severity', 'where', 'summary', 'since', 'muted by'],
          alerts.map((a) => [
            a.id,
            `${a.status}${a.flapping ? ' (flapping)' : ''}`,
            a.severity,
            where(a),
            a.summary,
            a.startedAt,
            a.mutedBy,
          ]),
        );
      },
    );
  alert
    .command('show <id>')
    .description(
      'one alert: what raised it, what was seen, when people were told, who took it, what self-healing did',
    )
    .action(async (id: string) => {
      const { api } = client();
      const view = await api.get('/api/v1/alerts/{id}', { params: { id } });
      const attempts = await api.all('/api/v1/healing/attempts', { query: { alert: view.id } });
      const healing = [...attempts].reverse();
      if (json()) return printJson({ ...view, healing });
      showAlert(view);
      if (healing.length > 0) {
        process.stdout.write('self-healing:\n');
        printHealAttempts(healing);
      }
    });
  alert
    .command('ack <id>')
    .description('acknowledge a firing alert: you took it')
    .action(async (id: string) => {
      const view = await client().api.post('/api/v1/alerts/{id}/ack', { params: { id } });
      if (json()) return printJson(view);
      process.stdout.write(`alert ${view.id} acknowledged by ${view.acknowledgedBy ?? '?'}\n`);
    });
  alert
    .command('resolve <id>')
    .description('resolve an open alert by hand')
    .requiredOption('--note <text>', 'why: what was done or found')
    .action(async (id: string, o: { note: string }) => {
      const view = await client().api.post('/api/v1/alerts/{id}/resolve', {
        params: { id },
        body: { note: o.note },
      });
      if (json()) return printJson(view);
      process.stdout.write(`alert ${view.id} resolved by ${view.resolvedBy ?? '?'}\n`);
    });
  alert
    .command('rules')
    .description('the rules over checks, in the order they are tried (first match wins)')
    .action(async () => {
      const { rules } = await client().api.get('/api/v1/alerts/rules');
      if (json()) return printJson(rules);
      printTable(
        ['name', 'match', 'condition', 'for', 'severity', 'resolve after', 'heal', 'inhibits'],
        rules.map((r) => [
          r.name,
          Object.entries(r.match)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' ') || '(every check)',
          r.condition,
          `${r.for}s`,
          r.severity,
          `${r.resolveAfter}s`,
          r.heal ?? '-',
          r.inhibits ? 'its stage' : '-',
        ]),
      );
    });

  const silence = program.command('silence').description("mute a tenant's alert notifications for a while");
  silence
    .command('add')
    .description('mute notifications of a tenant (or one stage); alerts are still recorded')
    .requiredOption('--tenant <tenant>', 'whose alerts')
    .option('--stage <stage>', 'one stage only')
    .option('--for <duration>', 'how long, e.g. 2h')
    .option('--until <time>', 'until when (ISO 8601)')
    .requiredOption('--reason <text>', 'why')
    .action(async (o: { tenant: string; stage?: string; for?: string; until?: string; reason: string }) => {
      const added = await client().api.post('/api/v1/silences', { body: muteBody(o) });
      if (json()) return printJson(added);
      process.stdout.write(`silence ${added.id} for ${where(added)} until ${added.endsAt}\n`);
    });
  silence
    .command('list')
    .description('current and planned silences')
    .option('--all', 'also ended and removed ones')
    .action(async (o: { all?: boolean }) => {
      const silences = await client().api.all('/api/v1/silences', {
        query: o.all ? { all: 'true' } : {},
      });
      if (json()) return printJson(silences);
      printTable(['id', 'tenant', 'stage', 'from', 'until', 'by', 'reason'], windowRows(silences));
    });
  silence
    .command('remove <id>')
    .description('remove a silence: what it muted is told from now on')
    .action(async (id: string) => {
      const removed = await client().api.delete('/api/v1/silences/{id}', { params: { id } });
      if (json()) return printJson(removed);
      process.stdout.write(`silence ${removed.id} removed\n`);
    });
}
