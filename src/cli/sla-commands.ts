import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import type { slaPolicyViewSchema } from '../api/contracts/sla.ts';
import { htmlToPdf, renderReportHtml } from '../sla/index.ts';
import type { PeriodKind } from '../sla/period.ts';
import { numberArg as number } from './args.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward sla policy set|show`, `sla exclude`, `sla exclusions`, `sla report`, `sla freeze`: thin over the API, which checks every value. */
export interface SlaCliContext {
  readonly client: () => ApiClient;
  /** The global -o: table, json, html or pdf (the last two for reports). */
  readonly output: () => string;
}

function collect(value: string, previous: string[] = []): string[] {
  if (!/^\d{1,18}$/.test(value)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a check id`);
  return [...previous, value];
}

function policyLines(p: z.output<typeof slaPolicyViewSchema>): string {
  return [
    `version ${p.version}, effective from ${p.effectiveFrom} (set by ${p.createdBy})`,
    `  target        ${p.target} % per ${p.period} (${p.timeZone})`,
    `  service time  ${p.serviceTime}`,
    `  short outages up to ${p.excludeOutagesUpToMinutes} min excluded; outages less than ${p.mergeGapMinutes} min apart are one`,
    `  degraded      counts ${p.partialWeight} of its time as down`,
    `  maintenance   ${p.maintenanceNoticeHours === null ? 'no clause' : `excluded when announced ${p.maintenanceNoticeHours} h ahead${p.maintenanceMaxHours === null ? '' : `, at most ${p.maintenanceMaxHours} h`}${p.maintenanceMaxCount === null ? '' : `, at most ${p.maintenanceMaxCount} windows`} per ${p.period}`}`,
    `  unknown       ${p.unknownCountsAsDown ? 'counts as down' : 'left out of the measured time (never up)'}`,
    `  checks        ${p.checks === null ? "the prod stage's built-in gateway check" : p.checks.join(', ')}`,
  ].join('\n');
}

export function slaCommands(program: Command, { client, output }: SlaCliContext): void {
  const sla = program.command('sla').description("tenants' SLA: policy versions, exclusions, reports");
  const policy = sla.command('policy').description("a tenant's SLA policy (versioned)");
  policy
    .command('set <tenant>')
    .description('set the policy: a new version that applies from --effective-from (default now)')
    .requiredOption('--target <percent>', 'availability promised, e.g. 99.5', number)
    .option('--period <period>', 'month, quarter or calendar-year (default)')
    .option('--tz <zone>', 'IANA time zone of periods and service time (default UTC)')
    .option('--service-time <window>', "e.g. 'daily 05:00-22:00', 'mon-fri 08:00-18:00' (default: always)")
    .option(
      '--maintenance-window <window>',
      "or: the recurring window outside the service time, e.g. 'daily 22:00-05:00'",
    )
    .option(
      '--exclude-outages-up-to <duration>',
      'outages up to this long do not count, e.g. 10m (default 0: off)',
    )
    .option('--merge-gap <duration>', 'outages less than this apart are one before that clause (default 5m)')
    .option(
      '--partial-weight <weight>',
      'share of degraded time counted as down, 0 to 1 (default 0.5)',
      number,
    )
    .option(
      '--maintenance-notice <duration>',
      'announced maintenance is excluded when announced this far ahead, e.g. 7d',
    )
    .option('--maintenance-max-hours <hours>', 'at most this many hours of it per period', number)
    .option('--maintenance-max-count <count>', 'at most this many windows of it per period', number)
    .option(
      '--unknown-counts-as-down',
      'time nobody probed counts as down (default: left out of the measured time)',
    )
    .option(
      '--check <id>',
      'a check that defines availability (repeatable; default: the prod gateway check)',
      collect,
    )
    .option('--effective-from <time>', 'ISO 8601 with offset (default now)')
    .action(
      async (
        tenant: string,
        o: {
          target: number;
          period?: string;
          tz?: string;
          serviceTime?: string;
          maintenanceWindow?: string;
          excludeOutagesUpTo?: string;
          mergeGap?: string;
          partialWeight?: number;
          maintenanceNotice?: string;
          maintenanceMaxHours?: number;
          maintenanceMaxCount?: number;
          unknownCountsAsDown?: boolean;
          check?: string[];
          effectiveFrom?: string;
        },
      ) => {
        const body = {
          target: o.target,
          // The API names the periods it accepts.
          period: o.period as PeriodKind | undefined,
          timeZone: o.tz,
          serviceTime: o.serviceTime,
          maintenanceWindow: o.maintenanceWindow,
          excludeOutagesUpTo: o.excludeOutagesUpTo,
          mergeGap: o.mergeGap,
          partialWeight: o.partialWeight,
          maintenanceNotice: o.maintenanceNotice,
          maintenanceMaxHours: o.maintenanceMaxHours,
          maintenanceMaxCount: o.maintenanceMaxCount,
          unknownCountsAsDown: o.unknownCountsAsDown,
          checks: o.check,
          effectiveFrom: o.effectiveFrom,
        };
        // Options not given are undefined: JSON leaves them out.
        const set = await client().api.put('/api/v1/tenants/{tenant}/sla/policy', {
          params: { tenant },
          body,
        });
        if (output() === 'json') return printJson(set);
        process.stdout.write(`SLA policy of ${tenant} set:\n${policyLines(set)}\n`);
      },
    );
  policy
    .command('show <tenant>')
    .description('the version in force and every earlier one')
    .action(async (tenant: string) => {
      const shown = await client().api.get('/api/v1/tenants/{tenant}/sla/policy', { params: { tenant } });
      if (output() === 'json') return printJson(shown);
      if (shown.versions.length === 0) return void process.stdout.write(`${tenant} has no SLA policy\n`);
      process.stdout.write(`${shown.versions.map(policyLines).join('\n')}\n`);
      process.stdout.write(`in force: ${shown.current ? `version ${shown.current.version}` : 'none yet'}\n`);
    });
  sla
    .command('exclude <tenant>')
    .description(
      "exclude a span from the SLA: a cause outside the vendor's control (audited, listed in reports)",
    )
    .requiredOption('--from <time>', 'ISO 8601, or "YYYY-MM-DD HH:MM" in the policy\'s time zone')
    .requiredOption('--until <time>', 'ISO 8601, or "YYYY-MM-DD HH:MM" in the policy\'s time zone')
    .requiredOption('--reason <text>', 'why, for the customer and the auditor')
    .action(async (tenant: string, o: { from: string; until: string; reason: string }) => {
      const made = await client().api.post('/api/v1/tenants/{tenant}/sla/exclusions', {
        params: { tenant },
        body: { from: o.from, until: o.until, reason: o.reason },
      });
      if (output() === 'json') return printJson(made);
      process.stdout.write(`exclusion ${made.id} of ${tenant}: ${made.from} to ${made.until}\n`);
    });
  sla
    .command('exclusions <tenant>')
    .description("a tenant's SLA exclusions")
    .action(async (tenant: string) => {
      const exclusions = await client().api.all('/api/v1/tenants/{tenant}/sla/exclusions', {
        params: { tenant },
      });
      if (output() === 'json') return printJson(exclusions);
      printTable(
        ['id', 'from', 'until', 'by', 'reason'],
        exclusions.map((e) => [e.id, e.from, e.until, e.by, e.reason]),
      );
    });
  sla
    .command('report <tenant>')
    .description('the SLA report of a period: -o json, -o html or -o pdf (Chromium), or a summary')
    .requiredOption('--period <period>', 'a year (2026), a quarter (2026-Q1) or a month (2026-03)')
    .option('--out <file>', 'write the report to a file instead of stdout')
    .action(async (tenant: string, o: { period: string; out?: string }) => {
      const report = await client().api.get('/api/v1/tenants/{tenant}/sla/reports/{period}', {
        params: { tenant, period: o.period },
      });
      const format = output();
      let data: string | Buffer;
      if (format === 'json') data = `${JSON.stringify(report, null, 2)}\n`;
      else if (format === 'html') data = renderReportHtml(report);
      else if (format === 'pdf') data = await htmlToPdf(renderReportHtml(report));
      else {
        const f = report.figures;
        data =
          `${tenant} ${report.period}: ${f.status}, availability ${f.availability ?? '-'} % (target ${f.target} %), ` +
          `${f.minutes.countedDowntime} min counted downtime, ${f.budgetLeftMinutes} min of budget left, ` +
          `${f.minutes.unknown} min not monitored, ${report.outages.length} outage(s)` +
          `${report.frozen ? `; frozen ${report.frozen.frozenAt}` : ''}` +
          `${report.frozen?.evidenceChanged ? '\nWARNING: the evidence changed since this report was frozen' : ''}\n`;
      }
      if (o.out !== undefined) await writeFile(o.out, data);
      else process.stdout.write(data);
      // A frozen report whose evidence changed is a finding: say so in the exit status too.
      if (report.frozen?.evidenceChanged) process.exitCode = 3;
    });
  sla
    .command('freeze <tenant>')
    .description(
      "freeze a closed period's report now (after its exclusions are reviewed), before the automatic freeze a day after its end",
    )
    .requiredOption('--period <period>', 'a year (2026), a quarter (2026-Q1) or a month (2026-03)')
    .action(async (tenant: string, o: { period: string }) => {
      const report = await client().api.post('/api/v1/tenants/{tenant}/sla/reports/{period}/freeze', {
        params: { tenant, period: o.period },
      });
      if (output() === 'json') return printJson(report);
      const f = report.figures;
      process.stdout.write(
        `${tenant} ${report.period}: frozen ${report.frozen?.frozenAt ?? '-'} by ${report.frozen?.frozenBy ?? '-'}, ` +
          `${f.status}, availability ${f.availability ?? '-'} % (target ${f.target} %), ` +
          `inputs sha256 ${report.frozen?.inputsSha256 ?? '-'}\n`,
      );
    });
}
