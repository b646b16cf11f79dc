import type { Command } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';
import { ask } from './prompt.ts';

/**
 * `steward restore <tenant> <stage> --to-time … (--into <stage> | --in-place)`,
 * `restore list|show|discard`, and `steward restore-test run|list|show`: thin
 * over the API. Long work is followed by polling, a line per change of phase;
 * a failure exits non-zero with the reason (with -o json, after the record).
 */
export interface RestoreCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type RestoreView = ResponseBody<paths, '/api/v1/restores/{id}'>;
type RestoreTestView = ResponseBody<paths, '/api/v1/restore-tests/{id}'>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function seconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function age(value: number | null): string {
  if (value === null) return '-';
  if (value < 90) return `${value} s`;
  if (value < 90 * 60) return `${Math.round(value / 60)} min`;
  if (value < 48 * 3600) return `${(value / 3600).toFixed(1)} h`;
  return `${(value / 86_400).toFixed(1)} days`;
}

/** Asks for the stage's name before an in-place restore; --yes answers for scripts. */
async function confirmInPlace(tenant: string, stage: string, yes: boolean | undefined): Promise<string> {
  if (yes) return stage;
  if (!process.stdin.isTTY) {
    throw new Error(
      `an in-place restore replaces the database of ${tenant}/${stage}: pass --yes to confirm (no terminal to ask on)`,
    );
  }
  const answer = await ask(
    `This replaces the database of ${tenant}/${stage} (the old one is kept until "steward restore discard"). Type "${stage}" to confirm: `,
  );
  if (answer.trim() !== stage) throw new Error('not confirmed; nothing was changed');
  return answer.trim();
}

/** The lines `restore` prints when it is done. */
function repoFlag(value: string): number {
  if (!/^[1-4]$/.test(value)) {
    throw new Error(`--repo ${JSON.stringify(value)} is not accepted; use 1 (regional) or 2 (off-site)`);
  }
  return Number(value);
}

export function restoreSummary(view: RestoreView): string[] {
  const lines = [
    `restore ${view.id}: ${view.tenant}/${view.sourceStage} restored to ${view.toTime} ${view.mode === 'into' ? `into ${view.targetStage}` : 'in place'} from backup ${view.backupLabel} (repo${view.repo}) in ${seconds(view.timings.totalMs)}`,
  ];
  if (view.keptDatabase) {
    lines.push(
      `the old database is kept as ${view.keptDatabase}${view.keptFilesDir ? ` (files in ${view.keptFilesDir})` : ''}; drop it with "steward restore discard ${view.id}"`,
    );
  }
  lines.push(`files: ${view.files.note ?? (view.files.restored ? 'restored' : 'not restored')}`);
  return lines;
}

/** The lines `restore-test run` prints when it is done. */
export function restoreTestSummary(view: RestoreTestView): string[] {
  const lines = [
    `restore test ${view.id} of ${view.tenant}/${view.stage}: ${view.status.toUpperCase()}`,
    `backup ${view.backupLabel ?? '-'} (repo${view.repo ?? '-'}), stopped ${view.backupStoppedAt ?? '-'}: RPO ${age(view.rpoSeconds)}; restored and verified in ${seconds(view.rtoMs)} (RTO)`,
  ];
  const fp = view.verification?.fingerprint;
  if (fp) {
    const bad = fp.tables.filter((t) => !t.ok).length;
    lines.push(
      `tables: ${fp.tables.length - bad} of ${fp.tables.length} match the fingerprint ${fp.takenByTest ? 'taken for this test' : 'recorded at backup time'}${fp.exact ? '' : ' (not exact)'}`,
    );
  }
  const app = view.verification?.app;
  if (app) lines.push(`app verify (${app.command}, release ${app.release}): exit ${app.exitCode}`);
  else if (view.verification) lines.push('app verify: none (the release defines no verify command)');
  if (view.error) lines.push(`error: ${view.error}`);
  return lines;
}

export function restoreCommands(program: Command, { client, json }: RestoreCliContext): void {
  const say = (line: string): void => {
    if (!json()) process.stderr.write(`${line}\n`);
  };

  const restore = program
    .command('restore')
    .description(
      'restore a stage to a point in time: into a new stage, or in place (see restore list, show, discard)',
    )
    .argument('<tenant>')
    .argument('<stage>')
    .option('--to-time <time>', 'the point in time with a UTC offset, e.g. "2026-11-23 10:15:00+01"')
    .option('--into <stage>', 'a new stage of the tenant to restore into')
    .option('--in-place', 'restore onto the stage itself (asks to confirm; the old database is kept)')
    .option('--yes', 'confirm an in-place restore without asking (for scripts)')
    .option('--no-wait', 'return once the restore is queued')
    .action(
      async (
        tenant: string,
        stage: string,
        o: { toTime?: string; into?: string; inPlace?: boolean; yes?: boolean; wait: boolean },
      ) => {
        // Not a required option to commander: it would then be required of "restore list" too.
        if (o.toTime === undefined) {
          throw new Error(
            '--to-time is required: the point in time with a UTC offset, e.g. "2026-11-23 10:15:00+01"',
          );
        }
        if ((o.into === undefined) === !o.inPlace) {
          throw new Error('give either --into <new stage> or --in-place, not both or neither');
        }
        const confirm = o.inPlace ? await confirmInPlace(tenant, stage, o.yes) : undefined;
        const api = client();
        let view = await api.api.post('/api/v1/tenants/{tenant}/stages/{stage}/restores', {
          params: { tenant, stage },
          body: {
            toTime: o.toTime,
            ...(o.into !== undefined ? { into: o.into } : { inPlace: true, confirm }),
          },
        });
        say(
          `restore ${view.id} of ${tenant}/${stage} to ${view.toTime} ${view.mode === 'into' ? `into ${view.targetStage}` : 'in place'} from backup ${view.backupLabel} queued`,
        );
        if (!o.wait) {
          if (json()) printJson(view);
          return;
        }
        let last = '';
        for (;;) {
          const line = `${view.phase}: ${view.progress}`;
          if (line !== last && view.status === 'running') say(line);
          last = line;
          if (view.status !== 'running') break;
          await sleep(500);
          view = await api.api.get('/api/v1/restores/{id}', { params: { id: view.id } });
        }
        if (view.status !== 'succeeded') {
          const reason = `restore ${view.id} of ${tenant}/${stage} failed: ${view.error ?? view.progress}`;
          if (!json()) throw new Error(reason);
          printJson(view);
          process.stderr.write(`error: ${reason}\n`);
          process.exitCode = 1;
          return;
        }
        if (json()) return printJson(view);
        process.stdout.write(`${restoreSummary(view).join('\n')}\n`);
      },
    );

  restore
    .command('list')
    .description("a tenant's restores, newest first")
    .argument('<tenant>')
    .action(async (tenant: string) => {
      const restores = await client().api.all('/api/v1/tenants/{tenant}/restores', { params: { tenant } });
      if (json()) return printJson(restores);
      printTable(
        ['id', 'stage', 'into', 'to time', 'status', 'phase', 'kept', 'files', 'created', 'by'],
        restores.map((r) => [
          r.id,
          r.sourceStage,
          r.mode === 'into' ? r.targetStage : '(in place)',
          r.toTime,
          r.status,
          r.phase,
          r.keptDatabase,
          r.files.restored ? `export ${r.files.exportId?.slice(0, 8) ?? ''}` : 'not restored',
          r.createdAt,
          r.createdBy,
        ]),
      );
    });

  restore
    .command('show')
    .description('one restore: phase, backup, files, what it kept, timings')
    .argument('<id>')
    .action(async (id: string) => {
      const view = await client().api.get('/api/v1/restores/{id}', { params: { id } });
      if (json()) return printJson(view);
      process.stdout.write(
        view.status === 'succeeded'
          ? `${restoreSummary(view).join('\n')}\n`
          : `restore ${view.id} of ${view.tenant}/${view.sourceStage}: ${view.status} (${view.phase}: ${view.progress})${view.error ? `\nerror: ${view.error}` : ''}\n`,
      );
    });

  restore
    .command('discard')
    .description('drop the old database (and files) an in-place restore kept (audited)')
    .argument('<id>')
    .option('--yes', 'do not ask')
    .action(async (id: string, _o: { yes?: boolean }, command: Command) => {
      // "restore" itself has --yes too, and takes it wherever it stands.
      const o = command.optsWithGlobals<{ yes?: boolean }>();
      const api = client();
      const before = await api.api.get('/api/v1/restores/{id}', { params: { id } });
      if (!o.yes && before.keptDatabase) {
        if (!process.stdin.isTTY)
          throw new Error(`discarding drops ${before.keptDatabase}: pass --yes to confirm`);
        const answer = await ask(
          `This drops the database ${before.keptDatabase}. Type "${before.targetStage}" to confirm: `,
        );
        if (answer.trim() !== before.targetStage) throw new Error('not confirmed; nothing was changed');
      }
      const view = await api.api.post('/api/v1/restores/{id}/discard', { params: { id } });
      if (json()) return printJson(view);
      process.stdout.write(
        `restore ${view.id}: the kept database ${before.keptDatabase ?? '-'} is dropped\n`,
      );
    });

  const tests = program
    .command('restore-test')
    .description('restore tests: restore, verify, record evidence');

  tests
    .command('run')
    .description(
      "restore a stage's newest backup into a scratch instance, verify it, tear it down, record evidence",
    )
    .argument('<tenant>')
    .argument('<stage>')
    .option('--repo <n>', 'the repository to restore from: 1 (regional, default) or 2 (off-site)')
    .option('--no-wait', 'return once the test is queued')
    .action(async (tenant: string, stage: string, o: { wait: boolean; repo?: string }) => {
      const api = client();
      let view = await api.api.post('/api/v1/tenants/{tenant}/stages/{stage}/restore-tests', {
        params: { tenant, stage },
        body: o.repo === undefined ? {} : { repo: repoFlag(o.repo) },
      });
      say(`restore test ${view.id} of ${tenant}/${stage} (cluster ${view.cluster}) started`);
      if (!o.wait) {
        if (json()) printJson(view);
        return;
      }
      let last = '';
      for (;;) {
        if (view.phase !== last && view.status === 'running') {
          say(
            view.phase === 'restoring' && view.backupLabel
              ? `restoring: backup ${view.backupLabel} (repo${view.repo ?? '?'}) to restore point ${view.restorePoint ?? '?'}`
              : `${view.phase}…`,
          );
        }
        last = view.phase;
        if (view.status !== 'running') break;
        await sleep(500);
        view = await api.api.get('/api/v1/restore-tests/{id}', { params: { id: view.id } });
      }
      if (json()) printJson(view);
      else process.stdout.write(`${restoreTestSummary(view).join('\n')}\n`);
      if (view.status !== 'succeeded') {
        const reason = `restore test ${view.id} of ${tenant}/${stage} failed: ${view.error ?? 'unknown reason'}`;
        if (!json()) throw new Error(reason);
        process.stderr.write(`error: ${reason}\n`);
        process.exitCode = 1;
      }
    });

  tests
    .command('list')
    .description('restore tests and their evidence, newest first')
    .argument('[tenant]')
    .option('--stage <stage>', 'only this stage')
    .action(async (tenant: string | undefined, o: { stage?: string }) => {
      const restoreTests = await client().api.all('/api/v1/restore-tests', {
        query: { ...(tenant ? { tenant } : {}), ...(o.stage ? { stage: o.stage } : {}) },
      });
      if (json()) return printJson(restoreTests);
      printTable(
        ['id', 'stage', 'trigger', 'status', 'backup', 'rpo', 'rto', 'started', 'error'],
        restoreTests.map((t) => [
          t.id,
          `${t.tenant}/${t.stage}`,
          t.trigger,
          t.status,
          t.backupLabel,
          age(t.rpoSeconds),
          seconds(t.rtoMs),
          t.startedAt,
          t.error?.split('\n')[0]?.slice(0, 80),
        ]),
      );
    });

  tests
    .command('show')
    .description('one restore test and its evidence')
    .argument('<id>')
    .action(async (id: string) => {
      const view = await client().api.get('/api/v1/restore-tests/{id}', { params: { id } });
      if (json()) return printJson(view);
      process.stdout.write(`${restoreTestSummary(view).join('\n')}\n`);
    });
}
