import type { Command } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable, progressReporter } from './output.ts';

/**
 * `steward drill failover <tenant> <stage> [--kill|--switchover]` and
 * `steward drill list [<tenant>]`: thin over the API. A drill runs in
 * Steward; the CLI follows it, a line per phase on stderr, and prints its
 * measurements; a failed drill exits non-zero with the reason.
 */
export interface DrillCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type DrillView = ResponseBody<paths, '/api/v1/drills/{id}'>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (s: number | null): string => (s === null ? '-' : `${s.toFixed(1)} s`);

/** The lines a finished drill prints. */
export function drillSummary(d: DrillView): string[] {
  const where = d.tenant ? `${d.tenant}/${d.stage ?? ''}` : d.cluster;
  const lines = [
    `drill ${d.id} (${d.kind}) of ${where}: ${d.outcome.toUpperCase()}: ${d.reason}`,
    `primary ${d.oldPrimary ?? '-'} -> ${d.newPrimary ?? '-'}; ${d.synchronous ? 'synchronous' : 'asynchronous'} replication`,
    `writes resumed after ${secs(d.writesResumeSeconds)}; ${d.acknowledgedWrites ?? '-'} writes acknowledged, ${d.lostCommits ?? '-'} lost; old primary rejoined after ${secs(d.rejoinSeconds)}`,
  ];
  return lines;
}

export function drillCommands(program: Command, { client, json }: DrillCliContext): void {
  const drill = program.command('drill').description('failover drills of ha stages, kept as evidence');

  drill
    .command('failover')
    .description(
      "kill the primary of an ha stage's cluster (or ask for a switchover) under a write load; measure and record",
    )
    .argument('<tenant>')
    .argument('<stage>')
    .option('--kill', 'SIGKILL the primary member, its Patroni and PostgreSQL (the default)')
    .option('--switchover', 'a planned switchover to a replica instead')
    .action(async (tenant: string, stage: string, o: { kill?: boolean; switchover?: boolean }) => {
      if (o.kill && o.switchover) throw new Error('give --kill or --switchover, not both');
      const api = client();
      let view = await api.api.post('/api/v1/tenants/{tenant}/stages/{stage}/drills', {
        params: { tenant, stage },
        body: { kind: o.switchover ? 'switchover' : 'kill' },
      });
      process.stderr.write(`drill ${view.id} (${view.kind}) of ${tenant}/${stage} started\n`);
      // On a terminal one line that changes; else a line per phase.
      const progress = progressReporter(true);
      while (view.outcome === 'running') {
        progress.update(view.phase);
        await sleep(250);
        view = await api.api.get('/api/v1/drills/{id}', { params: { id: view.id } });
      }
      progress.done();
      if (json()) printJson(view);
      else process.stdout.write(`${drillSummary(view).join('\n')}\n`);
      if (view.outcome !== 'passed') {
        if (!json()) throw new Error(`drill ${view.id} ${view.outcome}: ${view.reason}`);
        process.stderr.write(`error: drill ${view.id} ${view.outcome}: ${view.reason}\n`);
        process.exitCode = 1;
      }
    });

  drill
    .command('list')
    .description('drills and their measurements, newest first')
    .argument('[tenant]')
    .action(async (tenant: string | undefined) => {
      const drills = await client().api.all('/api/v1/drills', {
        query: tenant !== undefined ? { tenant } : {},
      });
      if (json()) return printJson(drills);
      printTable(
        ['id', 'kind', 'stage', 'started', 'outcome', 'resume', 'acked', 'lost', 'primary', 'rejoin', 'by'],
        drills.map((d) => [
          d.id,
          d.kind,
          d.tenant ? `${d.tenant}/${d.stage ?? ''}` : d.cluster,
          d.startedAt,
          d.outcome,
          secs(d.writesResumeSeconds),
          d.acknowledgedWrites,
          d.lostCommits,
          `${d.oldPrimary ?? '-'} -> ${d.newPrimary ?? '-'}`,
          secs(d.rejoinSeconds),
          d.requestedBy,
        ]),
      );
    });

  drill
    .command('show')
    .description('one drill: its phase while it runs, its measurements once it ended')
    .argument('<id>')
    .action(async (id: string) => {
      const view = await client().api.get('/api/v1/drills/{id}', { params: { id } });
      if (json()) return printJson(view);
      process.stdout.write(
        view.outcome === 'running'
          ? `drill ${view.id} of ${view.tenant ?? view.cluster}/${view.stage ?? ''}: running (${view.phase})\n`
          : `${drillSummary(view).join('\n')}\n`,
      );
    });
}
