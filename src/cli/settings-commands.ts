import type { Command } from 'commander';
import type { ApiClient } from './client.ts';
import { formatBytes, printJson, printTable } from './output.ts';

/** `steward settings limits` and `steward regions list`: Steward's settings as operators read them. Thin over the API. */
export interface SettingsCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

const msPer: Readonly<Record<string, number>> = { ms: 1, seconds: 1000, minutes: 60_000, days: 86_400_000 };
const durationUnits = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1000],
] as const;

/**
 * A limit's value as people read it: bytes in binary units, times in the
 * largest unit that holds them whole (300000 ms: 5 min, never rounded), rates
 * per second; none: "none".
 */
export function formatLimit(value: number | null, unit: string): string {
  if (value === null) return 'none';
  if (unit === 'bytes') return formatBytes(value);
  if (unit === 'per-second') return `${value}/s`;
  const factor = msPer[unit];
  if (factor === undefined) return String(value);
  const ms = value * factor;
  const [name, size] = durationUnits.find(([, size]) => ms >= size && ms % size === 0) ?? ['ms', 1];
  return `${ms / size} ${name}`;
}

export function settingsCommands(program: Command, { client, json }: SettingsCliContext): void {
  program
    .command('settings')
    .description("Steward's own settings, read only: its config file sets them")
    .command('limits')
    .description(
      'the effective limits (edge, tenants by tier, stages, sign-in, API, operations): value, default, where each is set',
    )
    .option('--changed', 'only the limits whose value differs from the default')
    .action(async (options: { changed?: boolean }) => {
      const view = await client().api.get('/api/v1/settings/limits');
      const limits = options.changed ? view.limits.filter((l) => l.changed) : view.limits;
      if (json()) return printJson({ ...view, limits });
      printTable(
        ['group', 'name', 'value', 'default', 'set in', 'changed'],
        limits.map((l) => [
          l.group,
          l.name,
          formatLimit(l.value, l.unit),
          formatLimit(l.default, l.unit),
          l.source === 'config' ? l.field : l.source === 'built-in' ? 'built in' : `${l.source}: ${l.field}`,
          l.changed ? 'changed' : '',
        ]),
      );
      process.stdout.write(`\n${view.howToChange}\n`);
    });

  program
    .command('regions')
    .description('regions: where tenants and their backups live')
    .command('list')
    .description(
      'the configured regions, the default marked: tenants and stages in each, backup repositories',
    )
    .action(async () => {
      const view = await client().api.get('/api/v1/regions');
      if (json()) return printJson(view);
      printTable(
        ['region', 'geography', 'default', 'tenants', 'stages', 'backup repositories'],
        view.regions.map((r) => [
          r.configured ? r.name : `${r.name} (not configured)`,
          r.geography ?? '-',
          r.isDefault ? 'default' : '',
          r.tenants,
          r.stages,
          r.backupRepositories.map((b) => `${b.name} ${b.location}`).join(', ') || '-',
        ]),
      );
      for (const r of view.regions) {
        if (r.backupResidency !== null) process.stdout.write(`\n${r.name}: ${r.backupResidency}\n`);
      }
    });
}
