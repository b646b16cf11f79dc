import { Option, type Command } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import { formatBytes, printJson, printTable } from './output.ts';

/**
 * `steward backup policy|list|run|verify|clusters`: thin over the API.
 * `backup run` follows its request and prints a line per change.
 */
export interface BackupCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

const enc = encodeURIComponent;

type PolicyView = ResponseBody<paths, '/api/v1/tenants/{tenant}/backup-policy'>;
type PolicyChange = RequestBody<paths, '/api/v1/tenants/{tenant}/backup-policy', 'put'>;
type BackupRequestView = ResponseBody<paths, '/api/v1/backup-requests/{id}'>;
type BackupClusterView = ResponseBody<paths, '/api/v1/backup-clusters/{stanza}/verify', 'post'>;

/** A flag's value that is not accepted: names the flag, the value and what is. */
function badFlag(flag: string, value: string, accepted: string): Error {
  return new Error(`${flag} ${JSON.stringify(value)} is not accepted; use ${accepted}`);
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw badFlag(flag, value, allowed.join(' or '));
  return value as T;
}

/** `30d` (or `30`): days. */
export function parseRetain(value: string): number {
  const match = /^(\d{1,4})d?$/.exec(value.trim());
  const days = match?.[1] === undefined ? NaN : Number(match[1]);
  if (!Number.isInteger(days) || days < 1 || days > 9999) {
    throw badFlag('--retain', value, 'a number of days from 1 to 9999, such as 30d');
  }
  return days;
}

/** `7` (or `off`): a retention tier's count of days, weeks or months. */
export function parseTier(flag: string, value: string, unit: string, max: number): number | 'off' {
  if (value.trim() === 'off') return 'off';
  const match = /^(\d{1,4})$/.exec(value.trim());
  const count = match?.[1] === undefined ? NaN : Number(match[1]);
  if (!Number.isInteger(count) || count < 1 || count > max) {
    throw badFlag(flag, value, `a number of ${unit} from 1 to ${max}, or off`);
  }
  return count;
}

/** ", then the newest full of each of the last 7 days, 8 weeks, 12 months", or "" when every tier is off. */
function tiersOf(p: Pick<PolicyView['policy'], 'keepDaily' | 'keepWeekly' | 'keepMonthly'>): string {
  const on = [
    p.keepDaily === null ? null : `${p.keepDaily} days`,
    p.keepWeekly === null ? null : `${p.keepWeekly} weeks`,
    p.keepMonthly === null ? null : `${p.keepMonthly} months`,
  ].filter((t) => t !== null);
  return on.length === 0 ? '' : `, then the newest full of each of the last ${on.join(', ')}`;
}

/** " +7 daily +12 monthly" for a table cell; "" when every tier is off. */
function tiersShort(p: Pick<PolicyView['policy'], 'keepDaily' | 'keepWeekly' | 'keepMonthly'>): string {
  const tier = (count: number | null, name: string) => (count === null ? '' : ` +${count} ${name}`);
  return tier(p.keepDaily, 'daily') + tier(p.keepWeekly, 'weekly') + tier(p.keepMonthly, 'monthly');
}

interface PolicyFlags {
  readonly full?: string;
  readonly diff?: string;
  readonly incr?: string;
  readonly retain?: string;
  readonly keepDaily?: string;
  readonly keepWeekly?: string;
  readonly keepMonthly?: string;
  readonly exports?: string;
}

function describePolicy(view: PolicyView): string {
  const p = view.policy;
  return (
    `tenant ${view.tenant}: full ${p.full}, diff ${p.diff ?? 'off'}, incr ${p.incr ?? 'off'}, kept ${p.retainDays} days${tiersOf(p)}, exports ${p.exports ?? 'off'}` +
    (view.isDefault ? ' (the default)' : ` (set by ${view.updatedBy ?? '?'} at ${view.updatedAt ?? '?'})`)
  );
}

function age(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

/** One line per repository of a request, as `backup run` prints it. */
export function requestLines(view: BackupRequestView): string[] {
  const open = view.status === 'pending' || view.status === 'running';
  // Why the request waits (another backup of the cluster runs), once rather than per repository.
  const reason = open && view.reason ? [view.reason] : [];
  return [
    ...reason,
    ...view.repos.map((r) => {
      const type = r.run?.type ?? view.type;
      if (r.status === 'pending') {
        return `repo${r.repo}: ${type} backup ${view.status === 'failed' ? 'not run' : 'waiting'}`;
      }
      if (r.status === 'running') {
        return `repo${r.repo}: ${type} backup running…${r.percent === null ? '' : ` ${Math.floor(r.percent)}%`}`;
      }
      const seconds = ((r.run?.durationMs ?? 0) / 1000).toFixed(1);
      if (r.status === 'succeeded') {
        return `repo${r.repo}: ${type} backup ${r.run?.label ?? ''} done in ${seconds} s, ${formatBytes(r.run?.sizeBytes ?? 0)}`;
      }
      return `repo${r.repo}: ${type} backup failed after ${seconds} s: ${r.run?.error ?? view.reason}`;
    }),
  ];
}

export function backupCommands(program: Command, { client, json }: BackupCliContext): void {
  const backup = program
    .command('backup')
    .description('physical backups (pgBackRest): policies, runs, freshness and verify');

  const policy = backup.command('policy').description("a tenant's backup policy");
  policy
    .command('set')
    .description(
      'change how often each kind runs, how often each stage is exported, and how long backups and exports are kept',
    )
    .argument('<tenant>')
    .option('--full <every>', 'weekly or daily')
    .option('--diff <every>', 'daily or off')
    .option('--incr <every>', '2h or off')
    .option('--retain <days>', 'how long backups and exports are kept, e.g. 30d')
    .option(
      '--keep-daily <days>',
      'beyond --retain, the newest full of each of the last N days (UTC), or off',
    )
    .option(
      '--keep-weekly <weeks>',
      'beyond --retain, the newest full of each of the last N ISO weeks, or off',
    )
    .option(
      '--keep-monthly <months>',
      'beyond --retain, the newest full of each of the last N months, or off',
    )
    .option('--exports <every>', 'a logical export of each ready stage: daily, weekly or off')
    .action(async (tenant: string, o: PolicyFlags) => {
      const body: PolicyChange = {};
      if (o.full !== undefined) body.full = oneOf('--full', o.full, ['weekly', 'daily'] as const);
      if (o.diff !== undefined) body.diff = oneOf('--diff', o.diff, ['daily', 'off'] as const);
      if (o.incr !== undefined) body.incr = oneOf('--incr', o.incr, ['2h', 'off'] as const);
      if (o.retain !== undefined) body.retainDays = parseRetain(o.retain);
      if (o.keepDaily !== undefined) body.keepDaily = parseTier('--keep-daily', o.keepDaily, 'days', 3650);
      if (o.keepWeekly !== undefined)
        body.keepWeekly = parseTier('--keep-weekly', o.keepWeekly, 'weeks', 520);
      if (o.keepMonthly !== undefined) {
        body.keepMonthly = parseTier('--keep-monthly', o.keepMonthly, 'months', 120);
      }
      if (o.exports !== undefined)
        body.exports = oneOf('--exports', o.exports, ['daily', 'weekly', 'off'] as const);
      if (Object.keys(body).length === 0) {
        throw new Error(
          'give at least one of --full, --diff, --incr, --retain, --keep-daily, --keep-weekly, --keep-monthly, --exports',
        );
      }
      const view = await client().api.put('/api/v1/tenants/{tenant}/backup-policy', {
        params: { tenant },
        body,
      });
      if (json()) return printJson(view);
      process.stdout.write(`${describePolicy(view)}\n`);
    });
  policy
    .command('show')
    .description("show a tenant's backup policy")
    .argument('<tenant>')
    .action(async (tenant: string) => {
      const view = await client().api.get('/api/v1/tenants/{tenant}/backup-policy', { params: { tenant } });
      if (json()) return printJson(view);
      process.stdout.write(`${describePolicy(view)}\n`);
    });

  backup
    .command('list')
    .description("a stage's backups in both repositories, runs, freshness and restorable range")
    .argument('<tenant>')
    .argument('<stage>')
    .action(async (tenant: string, stage: string) => {
      const view = await client().api.get('/api/v1/tenants/{tenant}/stages/{stage}/backups', {
        params: { tenant, stage },
      });
      if (json()) return printJson(view);
      const out = process.stdout;
      if (!view.cluster) {
        out.write(`${tenant}/${stage}: no physical backups: ${view.reason ?? 'unknown'}\n`);
        return;
      }
      out.write(`${tenant}/${stage} is on cluster ${view.cluster} (${view.clusterKind ?? '?'})\n`);
      if (view.policy) {
        const p = view.policy;
        out.write(
          `policy: full ${p.full}, diff ${p.diff ?? 'off'}, incr ${p.incr ?? 'off'}, kept ${p.retainDays} days${tiersOf(p)}\n`,
        );
      }
      out.write(
        view.freshness
          ? `newest backup: ${view.freshness.type} ${view.freshness.label} in repo${view.freshness.repo}, ${age(view.freshness.ageSeconds)} old\n`
          : `newest backup: none${view.reason ? ` (${view.reason})` : ''}\n`,
      );
      if (view.error) out.write(`pgbackrest info failed: ${view.error}\n`);
      for (const r of view.restorable) {
        out.write(
          `repo${r.repo} restores from ${r.from} to the newest archived WAL (${r.latestWal ?? '-'})\n`,
        );
      }
      if (view.lastVerify) {
        out.write(`last verify: ${view.lastVerify.ok ? 'ok' : 'FAILED'} at ${view.lastVerify.at}\n`);
      }
      out.write('\n');
      printTable(
        ['repo', 'label', 'type', 'stopped', 'database', 'stored'],
        view.backups.map((b) => [
          b.repo,
          b.label,
          b.type + (b.error ? ' (error)' : ''),
          b.stoppedAt,
          formatBytes(b.databaseBytes),
          formatBytes(b.repositoryBytes),
        ]),
      );
      out.write('\n');
      printTable(
        ['run', 'repo', 'type', 'status', 'started', 'took', 'by', 'error'],
        view.runs
          .slice(0, 20)
          .map((r) => [
            r.id,
            r.repo,
            r.type,
            r.status,
            r.startedAt,
            r.durationMs === null ? null : `${(r.durationMs / 1000).toFixed(1)} s`,
            r.requestedBy,
            r.error?.split('\n')[0],
          ]),
      );
    });

  backup
    .command('run')
    .description('back up a stage now: repo1 then repo2 by default; progress shown, non-zero exit on failure')
    .argument('<tenant>')
    .argument('<stage>')
    .addOption(new Option('--type <type>', 'full, diff or incr').default('full'))
    .option('--repo <repo>', '1, 2 or all', 'all')
    .option('--no-wait', 'return once the backup is requested')
    .action(async (tenant: string, stage: string, o: { type: string; repo: string; wait: boolean }) => {
      const type = oneOf('--type', o.type, ['full', 'diff', 'incr'] as const);
      const repo = o.repo === 'all' ? 'all' : Number(oneOf('--repo', o.repo, ['1', '2', 'all']));
      const api = client();
      let view = await api.api.post('/api/v1/tenants/{tenant}/stages/{stage}/backups', {
        params: { tenant, stage },
        body: { type, repo },
      });
      const say = (line: string): void => {
        if (!json()) process.stderr.write(`${line}\n`);
      };
      say(`backup ${view.id} of ${tenant}/${stage} (cluster ${view.cluster}) requested`);
      if (!o.wait) {
        if (json()) printJson(view);
        return;
      }
      const shown = new Set<string>();
      const show = (): void => {
        for (const line of requestLines(view)) {
          if (shown.has(line)) continue;
          shown.add(line);
          say(line);
        }
      };
      show();
      while (view.status === 'pending' || view.status === 'running') {
        await new Promise((r) => setTimeout(r, 500));
        view = await api.api.get('/api/v1/backup-requests/{id}', { params: { id: view.id } });
        show();
      }
      if (view.status !== 'succeeded') {
        const reason = `backup ${view.id} of ${tenant}/${stage} failed: ${view.reason}`;
        if (!json()) throw new Error(reason);
        // One JSON document on stdout: the request, failed runs and all.
        printJson(view);
        process.stderr.write(`error: ${reason}\n`);
        process.exitCode = 1;
        return;
      }
      if (json()) printJson(view);
      else {
        process.stdout.write(
          `backup of ${tenant}/${stage} done: ${view.repos.map((r) => `repo${r.repo} ${r.run?.label ?? '-'}`).join(', ')}${view.reason ? ` (${view.reason})` : ''}\n`,
        );
      }
    });

  backup
    .command('verify')
    .description('verify the repositories of every cluster (or one) now; the result is recorded')
    .option('--cluster <stanza>', 'only this cluster (e.g. shared)')
    .action(async (o: { cluster?: string }) => {
      const api = client();
      const stanzas = o.cluster
        ? [o.cluster]
        : (await api.api.all('/api/v1/backup-clusters')).filter((c) => c.live).map((c) => c.stanza);
      const results: BackupClusterView[] = [];
      for (const stanza of stanzas) {
        results.push(
          await api.send<BackupClusterView>('POST', `/api/v1/backup-clusters/${enc(stanza)}/verify`, {
            payload: Buffer.from('{}'),
            contentType: 'application/json',
            timeoutMs: 60 * 60_000,
          }),
        );
      }
      if (json()) printJson(results);
      else {
        if (results.length === 0) process.stdout.write('no clusters are backed up\n');
        for (const c of results) {
          const v = c.lastVerify;
          process.stdout.write(`${c.stanza}: ${v?.ok ? 'ok' : 'FAILED'}\n`);
          if (v && !v.ok) process.stdout.write(`${v.report.split('\n').slice(-10).join('\n')}\n`);
        }
      }
      if (results.some((c) => !c.lastVerify?.ok)) process.exitCode = 3;
    });

  backup
    .command('clusters')
    .description('the clusters Steward backs up, their policies and last verify')
    .action(async () => {
      const clusters = await client().api.all('/api/v1/backup-clusters');
      if (json()) return printJson(clusters);
      printTable(
        ['cluster', 'kind', 'stage', 'policy', 'prepared', 'verified'],
        clusters.map((c) => [
          c.stanza,
          c.live ? c.kind : `${c.kind} (removed)`,
          c.tenant ? `${c.tenant}/${c.stage ?? '?'}` : null,
          `full ${c.policy.full}, diff ${c.policy.diff ?? 'off'}, incr ${c.policy.incr ?? 'off'}, ${c.policy.retainDays}d${tiersShort(c.policy)}`,
          c.preparedAt,
          c.lastVerify ? `${c.lastVerify.ok ? 'ok' : 'FAILED'} ${c.lastVerify.at}` : null,
        ]),
      );
    });
}

export { age as formatAge };
