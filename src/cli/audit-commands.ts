import type { Command } from 'commander';
import { describeVerifyReport } from '../audit/report.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

export interface AuditCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

/** steward audit …: the tamper-evident audit log, listed and verified. */
export function auditCommands(program: Command, cli: AuditCliContext): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('list')
    .description('list audit events, oldest first')
    .option('--tenant <slug>', 'only events of this tenant')
    .option('--since <time>', 'only events at or after this ISO time (e.g. 2026-11-23T10:00:00Z)')
    .option('--action <action>', 'only this action (e.g. tenant.create)')
    .option('--limit <n>', 'at most this many events', '200')
    .action(async (o: { tenant?: string; since?: string; action?: string; limit: string }) => {
      const { events } = await cli.client().api.get('/api/v1/audit', {
        query: {
          limit: Number(o.limit),
          ...(o.tenant ? { tenant: o.tenant } : {}),
          ...(o.since ? { since: o.since } : {}),
          ...(o.action ? { action: o.action } : {}),
        },
      });
      if (cli.json()) return printJson(events);
      printTable(
        ['seq', 'at', 'actor', 'action', 'target', 'outcome'],
        events.map((e) => [e.seq, e.at, e.actor, e.action, e.target, e.outcome]),
      );
    });
  audit
    .command('verify')
    .description(
      'verify the audit log: hashes, MACs, the newest signed checkpoint; reports changed, inserted, deleted, forged and truncated events and rewrites',
    )
    .action(async () => {
      const report = await cli.client().api.get('/api/v1/audit/verify');
      if (cli.json()) printJson(report);
      else process.stdout.write(describeVerifyReport(report));
      if (!report.ok) process.exitCode = 3;
    });
}
