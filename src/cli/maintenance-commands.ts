import type { Command } from 'commander';
import type { z } from 'zod';
import type { maintenanceWindowViewSchema } from '../api/contracts/maintenance.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward maintenance plan|add|list|cancel|end`: thin over the API, which checks every value. */
export interface MaintenanceCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type MaintenanceWindowView = z.output<typeof maintenanceWindowViewSchema>;

function where(w: MaintenanceWindowView): string {
  return w.stage === null ? w.tenant : `${w.tenant}/${w.stage}`;
}

function announced(w: MaintenanceWindowView): string {
  if (w.cancelledAt) return `cancelled ${w.cancelledAt}`;
  if (w.announcedAt) return `announced ${w.announcedAt}`;
  return w.kind === 'emergency' ? 'to announce now' : `to announce ${w.announceDays}d ahead`;
}

export function maintenanceCommands(program: Command, { client, json }: MaintenanceCliContext): void {
  const maintenance = program
    .command('maintenance')
    .description(
      "maintenance windows: announced to the tenant's contacts, alerts muted, checks keep probing",
    );
  maintenance
    .command('plan <tenant> [stage]')
    .description("plan a window ahead, announced to the tenant's contacts --announce days before")
    .requiredOption('--at <time>', 'when it starts, local to --tz: "2026-12-05 23:00"')
    .option('--tz <zone>', 'the IANA zone of --at (default UTC), e.g. Europe/Berlin')
    .requiredOption('--for <length>', 'how long, e.g. 2h or 90m')
    .option('--announce <days>', 'how many days ahead to announce it, e.g. 7d (default 0d)')
    .option('--emergency', 'announce it at once, whatever the notice')
    .requiredOption('--reason <text>', 'what is done')
    .action(
      async (
        tenant: string,
        stage: string | undefined,
        o: { at: string; tz?: string; for: string; announce?: string; emergency?: boolean; reason: string },
      ) => {
        const planned = await client().api.post('/api/v1/maintenance-windows/plan', {
          body: {
            tenant,
            ...(stage !== undefined ? { stage } : {}),
            at: o.at,
            ...(o.tz !== undefined ? { tz: o.tz } : {}),
            for: o.for,
            ...(o.announce !== undefined ? { announce: o.announce } : {}),
            ...(o.emergency ? { emergency: true } : {}),
            reason: o.reason,
          },
        });
        if (json()) return printJson(planned);
        process.stdout.write(
          `maintenance window ${planned.id} for ${where(planned)} from ${planned.startsAt} until ${planned.endsAt}, ${announced(planned)}\n`,
        );
      },
    );
  maintenance
    .command('add <tenant> [stage]')
    .description('a maintenance window from now (or --from) for a while (or --until), announced at once')
    .option('--from <time>', 'when it starts (ISO 8601; default now)')
    .option('--for <duration>', 'how long, e.g. 1h')
    .option('--until <time>', 'until when (ISO 8601)')
    .requiredOption('--reason <text>', 'what is done')
    .action(
      async (
        tenant: string,
        stage: string | undefined,
        o: { from?: string; for?: string; until?: string; reason: string },
      ) => {
        const added = await client().api.post('/api/v1/maintenance-windows', {
          body: {
            tenant,
            ...(stage !== undefined ? { stage } : {}),
            ...(o.from !== undefined ? { from: o.from } : {}),
            ...(o.for !== undefined ? { for: o.for } : {}),
            ...(o.until !== undefined ? { until: o.until } : {}),
            reason: o.reason,
          },
        });
        if (json()) return printJson(added);
        process.stdout.write(
          `maintenance window ${added.id} for ${where(added)} from ${added.startsAt} until ${added.endsAt}\n`,
        );
      },
    );
  maintenance
    .command('list')
    .description('current and planned maintenance windows')
    .option('--all', 'also past ones')
    .option('--tenant <slug>', 'one tenant only')
    .action(async (o: { all?: boolean; tenant?: string }) => {
      const windows = await client().api.all('/api/v1/maintenance-windows', {
        query: { ...(o.all ? { all: 'true' as const } : {}), tenant: o.tenant },
      });
      if (json()) return printJson(windows);
      printTable(
        ['id', 'tenant', 'stage', 'from', 'until', 'kind', 'announcement', 'by', 'reason'],
        windows.map((w) => [
          w.id,
          w.tenant,
          w.stage ?? '(all)',
          w.startsAt,
          w.endsAt,
          w.kind,
          announced(w),
          w.createdBy,
          w.reason,
        ]),
      );
    });
  for (const [verb, what] of [
    ['cancel', 'cancel a planned window (its contacts are told if it was announced); a current one ends now'],
    ['end', 'end a maintenance window now (a planned one is cancelled)'],
  ] as const) {
    maintenance
      .command(`${verb} <id>`)
      .description(what)
      .action(async (id: string) => {
        const ended = await client().api.post(`/api/v1/maintenance-windows/{id}/${verb}`, { params: { id } });
        if (json()) return printJson(ended);
        process.stdout.write(
          ended.cancelledAt
            ? `maintenance window ${ended.id} cancelled\n`
            : `maintenance window ${ended.id} ended at ${ended.endsAt}\n`,
        );
      });
  }
}
