import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { z } from 'zod';
import type { syncRunViewSchema } from '../api/contracts/ldap-directory.ts';
import type { LdapPreset } from '../identity/ldap/settings.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable, progressReporter } from './output.ts';
import { readStdin } from './prompt.ts';
import { numberArg } from './args.ts';
import { refuseSecretOption } from './secret-input.ts';

/**
 * `steward directory set|show|sync|remove`: a tenant's LDAP / Active
 * Directory sync, thin over the API. The bind password is read from stdin
 * (--bind-password-stdin), never from the command line.
 */
export interface DirectoryCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type SyncRunView = z.output<typeof syncRunViewSchema>;

interface SetFlags {
  readonly url: string;
  readonly bindDn: string;
  readonly baseDn: string;
  readonly bindPasswordStdin?: boolean;
  readonly preset?: string;
  readonly caFile?: string;
  readonly userFilter?: string;
  readonly groupBaseDn?: string;
  readonly groupFilter?: string;
  readonly memberAttribute?: string;
  readonly attribute?: string[];
  readonly every?: string;
}

/** `userName=userPrincipalName`: one attribute map override. */
function collectAttribute(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function attributeOverrides(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const match = /^([A-Za-z]+)=(.+)$/.exec(value.trim());
    if (!match?.[1] || !match[2]) {
      throw new Error(
        `--attribute ${JSON.stringify(value)} is not accepted; use field=ldapAttribute, such as userName=userPrincipalName`,
      );
    }
    out[match[1]] = match[2];
  }
  return out;
}

/** "3 created, 1 updated, 1 deactivated, 0 reactivated; groups +1 ~0 -0; memberships +3 -0". */
export function describeCounts(run: SyncRunView): string {
  const c = run.counts;
  const n = (v: number | undefined): number => v ?? 0;
  return (
    `${n(c.created)} created, ${n(c.updated)} updated, ${n(c.deactivated)} deactivated, ${n(c.reactivated)} reactivated; ` +
    `groups ${n(c.groupsCreated)} created, ${n(c.groupsUpdated)} updated, ${n(c.groupsDeleted)} deleted; ` +
    `memberships ${n(c.membershipsAdded)} added, ${n(c.membershipsRemoved)} removed`
  );
}

function seconds(run: SyncRunView): string {
  if (!run.finishedAt) return '-';
  return `${((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s`;
}

function describeRun(tenant: string, run: SyncRunView): string[] {
  const lines = [
    `directory sync ${run.id} of ${tenant}: ${run.status} in ${seconds(run)}, ${run.entries} users and ${run.groups} groups read`,
  ];
  if (run.status !== 'failed') lines.push(describeCounts(run));
  if (run.reason) lines.push(`${run.status === 'failed' ? 'error' : 'note'}: ${run.reason}`);
  for (const problem of run.problems.slice(0, 20)) lines.push(`skipped ${problem.dn}: ${problem.reason}`);
  if (run.problems.length > 20) lines.push(`… and ${run.problems.length - 20} more (see -o json)`);
  return lines;
}

export function directoryCommands(program: Command, { client, json }: DirectoryCliContext): void {
  const directory = program
    .command('directory')
    .description("sync a tenant's users and groups from its LDAP or Active Directory");

  const set = directory
    .command('set')
    .description("set the tenant's directory (replaces the settings; a first sync is queued)")
    .argument('<tenant>')
    .requiredOption('--url <url>', 'ldaps://host[:port], or ldap://host[:port] (upgraded with StartTLS)')
    .requiredOption('--bind-dn <dn>', 'the service account to bind as')
    .requiredOption('--base-dn <dn>', 'where to search for users')
    .option('--bind-password-stdin', 'read the bind password from stdin (required the first time)')
    .option('--preset <preset>', 'openldap or active-directory (attribute map and filters)', 'openldap')
    .option(
      '--ca-file <file>',
      "a PEM file of the CA to trust for the server's certificate (default: the system's)",
    )
    .option('--user-filter <filter>', "which entries are users (default: the preset's)")
    .option('--group-base-dn <dn>', 'where to search for groups (default: groups are not synced)')
    .option('--group-filter <filter>', "which entries are groups (default: the preset's)")
    .option(
      '--member-attribute <name>',
      'the group attribute that lists members: member, uniqueMember or memberUid',
    )
    .option(
      '--attribute <field=ldapAttribute>',
      'override the attribute map (userName, externalId, email, displayName, givenName, familyName, groupName, groupExternalId, accountControl); repeatable',
      collectAttribute,
    )
    .option('--every <interval>', 'how often to sync: 5m to 7d, or off (default 1h)')
    .action(async (tenant: string, o: SetFlags) => {
      let bindPassword: string | undefined;
      if (o.bindPasswordStdin) {
        bindPassword = (await readStdin()).split(/\r?\n/)[0] ?? '';
        if (bindPassword === '')
          throw new Error('--bind-password-stdin: stdin ended before the bind password');
      }
      // Options not given are undefined: JSON leaves them out.
      const body = {
        url: o.url,
        bindDn: o.bindDn,
        baseDn: o.baseDn,
        // The API names the presets it accepts.
        preset: o.preset as LdapPreset | undefined,
        bindPassword,
        caPem: o.caFile !== undefined ? await readFile(o.caFile, 'utf8') : undefined,
        userFilter: o.userFilter,
        groupBaseDn: o.groupBaseDn,
        groupFilter: o.groupFilter,
        memberAttribute: o.memberAttribute,
        attributes: o.attribute?.length ? attributeOverrides(o.attribute) : undefined,
        every: o.every,
      };
      const view = await client().api.put('/api/v1/tenants/{tenant}/directory', { params: { tenant }, body });
      if (json()) return printJson(view);
      const d = view.directory;
      process.stdout.write(
        `tenant ${tenant}: users from ${d?.url ?? '?'} under ${d?.baseDn ?? '?'} (${d?.preset ?? '?'}), ` +
          `groups ${d?.groupBaseDn ? `under ${d.groupBaseDn}` : 'not synced'}, every ${d?.every ?? 'off (on demand)'}; a first sync is queued ("steward directory sync ${tenant}" to follow one)\n`,
      );
    });
  refuseSecretOption(set, '--bind-password', 'pipe it with --bind-password-stdin');

  directory
    .command('show')
    .description("the tenant's directory settings and its last sync runs")
    .argument('<tenant>')
    .option('--runs <n>', 'how many runs to show', '10')
    .action(async (tenant: string, o: { runs: string }) => {
      const view = await client().api.get('/api/v1/tenants/{tenant}/directory', {
        params: { tenant },
        query: { limit: numberArg(o.runs) },
      });
      if (json()) return printJson(view);
      const d = view.directory;
      if (!d) {
        process.stdout.write(`tenant ${tenant} has no directory to sync from\n`);
      } else {
        process.stdout.write(
          [
            `url:        ${d.url}${d.caPem ? ' (CA given)' : ''}`,
            `bind DN:    ${d.bindDn}`,
            `users:      ${d.baseDn} ${d.userFilter} (${d.preset}: userName ${d.attributes.userName}, id ${d.attributes.externalId})`,
            `groups:     ${d.groupBaseDn ? `${d.groupBaseDn} ${d.groupFilter}, members in ${d.memberAttribute}` : 'not synced'}`,
            `every:      ${d.every ?? 'off (on demand)'}${d.nextSyncAt ? `, next at ${d.nextSyncAt}` : ''}`,
            `set by:     ${d.updatedBy} at ${d.updatedAt}`,
            '',
          ].join('\n'),
        );
      }
      if (view.runs.length === 0) return;
      printTable(
        [
          'run',
          'started',
          'trigger',
          'status',
          'users',
          'created',
          'updated',
          'deactivated',
          'reactivated',
          'problems',
          'reason',
        ],
        view.runs.map((r) => [
          r.id,
          r.startedAt,
          r.trigger,
          r.status === 'running' ? `running: ${r.progress ?? ''}` : r.status,
          r.entries,
          r.counts.created ?? 0,
          r.counts.updated ?? 0,
          r.counts.deactivated ?? 0,
          r.counts.reactivated ?? 0,
          r.counts.problems ?? 0,
          r.reason,
        ]),
      );
    });

  directory
    .command('sync')
    .description('sync now and follow the run: progress, then what changed')
    .argument('<tenant>')
    .action(async (tenant: string) => {
      const { api } = client();
      const requested = await api.post('/api/v1/tenants/{tenant}/directory/sync', { params: { tenant } });
      const progress = progressReporter(!json());
      let run: SyncRunView | undefined;
      // A run may take long once it runs; one that never starts means no worker takes the job.
      const startBy = Date.now() + 120_000;
      for (;;) {
        const view = await api.get('/api/v1/tenants/{tenant}/directory', {
          params: { tenant },
          query: { limit: 5 },
        });
        run = view.runs.find((r) => r.startedAt >= requested.requestedAt);
        if (run && run.status !== 'running') break;
        if (!run && Date.now() > startBy) {
          throw new Error(
            `the sync of ${tenant} was queued at ${requested.requestedAt} but has not started within 2 minutes: is a Steward with job workers running? ("steward directory show ${tenant}" shows it once it has run)`,
          );
        }
        progress.update(
          run ? `sync ${run.id}: ${run.progress ?? 'running'}` : 'waiting for the sync to start',
        );
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      progress.done();
      if (json()) printJson(run);
      else process.stdout.write(`${describeRun(tenant, run).join('\n')}\n`);
      if (run.status === 'failed') process.exitCode = 1;
    });

  directory
    .command('remove')
    .description("stop syncing from the tenant's directory (the users it made stay as they are)")
    .argument('<tenant>')
    .action(async (tenant: string) => {
      const result = await client().api.delete('/api/v1/tenants/{tenant}/directory', { params: { tenant } });
      if (json()) return printJson(result);
      process.stdout.write(
        result.removed ? `tenant ${tenant}: directory sync removed\n` : `tenant ${tenant} had no directory\n`,
      );
    });
}
