import type { Command } from 'commander';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

export interface SecretsCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
  readonly confirm: (what: string, expected: string, yes: boolean | undefined) => Promise<void>;
}

/** steward secrets …: the master key that seals secrets at rest, rotated and its retired keys purged. */
export function secretsCommands(program: Command, cli: SecretsCliContext): void {
  const secrets = program.command('secrets').description('secrets at rest');
  secrets
    .command('rotate-master-key')
    .description('re-wrap every secret with a new master key, without downtime')
    .action(async () => {
      const report = await cli.client().api.post('/api/v1/secrets/rotate-master-key');
      if (cli.json()) return printJson(report);
      process.stdout.write(
        `master key rotated: ${report.previousKeyId} -> ${report.keyId}, ${report.rewrapped} secrets re-wrapped\n`,
      );
    });

  secrets
    .command('keys')
    .description('the active master key, and the retired ones kept for restored backups')
    .action(async () => {
      const keys = await cli.client().api.get('/api/v1/secrets/master-keys');
      if (cli.json()) return printJson(keys);
      process.stdout.write(
        `active master key ${keys.activeKeyId}; retired keys are kept ${keys.retentionDays} days (the longest backup retention)\n\n`,
      );
      printTable(
        ['retired key', 'retired at', 'purgeable from'],
        keys.keys.map((k) => [k.id, k.retiredAt, k.purgeableAt]),
      );
    });
  secrets
    .command('purge-retired-keys')
    .description(
      'drop retired master keys older than the longest backup retention (backups from before their retirement can no longer be read)',
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (o: { yes?: boolean }) => {
      await cli.confirm(
        'This drops the retired master keys older than the longest backup retention; restored backups that need them can no longer be read',
        'purge',
        o.yes,
      );
      const report = await cli.client().api.post('/api/v1/secrets/purge-retired-keys');
      if (cli.json()) return printJson(report);
      process.stdout.write(
        report.purged.length === 0
          ? 'no retired master keys to purge\n'
          : `purged ${report.purged.map((k) => `${k.id} (retired ${k.retiredAt})`).join(', ')}\n`,
      );
      for (const k of report.kept) process.stdout.write(`kept ${k.id}: purgeable from ${k.purgeableAt}\n`);
    });
}
