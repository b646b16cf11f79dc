import type { Command } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../api/client/typed.ts';
import { describeIsolation } from '../runtime/sandbox/index.ts';
import { formatAge } from './backup-commands.ts';
import { ApiError, type ApiClient } from './client.ts';
import { printJson, printTable, progressReporter } from './output.ts';

export interface TenantCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
  readonly confirm: (what: string, expected: string, yes: boolean | undefined) => Promise<void>;
}

type TenantView = ResponseBody<paths, '/api/v1/tenants', 'post'>;
type TenantInput = RequestBody<paths, '/api/v1/tenants', 'post'>;
/** `tenant show`: each stage with its backup freshness and (ha) replication, and the machine's isolation. */
type TenantShow = ResponseBody<paths, '/api/v1/tenants/{tenant}'>;
type StageBackup = TenantShow['stages'][number]['backup'];

/** steward tenant … and steward stage …; their commands, for other modules to add to (contacts, the runtime's). */
export function tenantCommands(
  program: Command,
  cli: TenantCliContext,
): { readonly tenant: Command; readonly stage: Command } {
  const tenant = program.command('tenant').description('tenants: one customer each, with isolated stages');
  tenant
    .command('create <slug>')
    .description('create a tenant with its stages (each gets a database, role, password and files directory)')
    .option('--stages <names>', 'comma-separated stage names (default: dev,test,prod)')
    .option('--region <region>', 'region (default: the configured default)')
    .option('--display-name <name>', 'display name')
    .option('--tier <tier>', 'database tier: shared, dedicated or ha (a Patroni cluster per stage)', 'shared')
    .option(
      '--contact <contact>',
      'a contact as "Name <email>" (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--no-wait', 'return at once instead of waiting for the stages to be ready')
    .action(
      async (
        slug: string,
        o: {
          stages?: string;
          region?: string;
          displayName?: string;
          tier: string;
          contact: string[];
          wait: boolean;
        },
      ) => {
        const contacts = o.contact.map((c) => {
          const match = /^(.*)<([^>]+)>\s*$/.exec(c);
          if (!match)
            throw new Error(`--contact ${JSON.stringify(c)}: write it as "Name <email@example.com>"`);
          return { name: (match[1] ?? '').trim(), email: (match[2] ?? '').trim() };
        });
        const body = {
          slug,
          // The API names the field and the tiers it accepts.
          tier: o.tier as TenantInput['tier'],
          contacts,
          ...(o.stages ? { stages: o.stages.split(',').map((s) => s.trim()) } : {}),
          ...(o.region ? { region: o.region } : {}),
          ...(o.displayName ? { displayName: o.displayName } : {}),
        };
        let created = await cli.client().api.post('/api/v1/tenants', { body });
        if (o.wait) created = (await waitForTenant(cli, slug, 'ready')) ?? created;
        showTenant(cli, created);
      },
    );
  tenant
    .command('list')
    .description('list tenants')
    .action(async () => {
      const tenants = await cli.client().api.all('/api/v1/tenants');
      if (cli.json()) return printJson(tenants);
      printTable(
        ['tenant', 'phase', 'region', 'tier', 'stages'],
        tenants.map((t) => [t.slug, t.phase, t.region, t.tier, t.stages.map((s) => s.name).join(',')]),
      );
    });
  tenant
    .command('show <slug>')
    .description('show a tenant, its stages, their phases and reasons')
    .action(async (slug: string) =>
      showTenant(cli, await cli.client().api.get('/api/v1/tenants/{tenant}', { params: { tenant: slug } })),
    );
  tenant
    .command('delete <slug>')
    .description('delete a tenant: databases, roles, files and secrets of every stage')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-wait', 'return at once instead of waiting until it is gone')
    .action(async (slug: string, o: { yes?: boolean; wait: boolean }) => {
      const api = cli.client().api;
      await api.get('/api/v1/tenants/{tenant}', { params: { tenant: slug } });
      await cli.confirm(`This deletes tenant ${slug} with all its databases and files`, slug, o.yes);
      const result = await api.delete('/api/v1/tenants/{tenant}', { params: { tenant: slug } });
      if (o.wait) await waitForTenant(cli, slug, 'gone');
      if (cli.json()) return printJson(o.wait ? { deleted: slug } : result);
      process.stdout.write(o.wait ? `tenant ${slug} deleted\n` : `tenant ${slug} is being deleted\n`);
    });

  const stage = program.command('stage').description("a tenant's stages (dev, test, prod, ...)");
  stage
    .command('add <tenant> <stage>')
    .description('add a stage to a tenant')
    .option('--no-wait', 'return at once')
    .action(async (slug: string, name: string, o: { wait: boolean }) => {
      let view = await cli.client().api.post('/api/v1/tenants/{tenant}/stages', {
        params: { tenant: slug },
        body: { name },
      });
      if (o.wait) view = (await waitForTenant(cli, slug, 'ready')) ?? view;
      showTenant(cli, view);
    });
  stage
    .command('remove <tenant> <stage>')
    .description('remove a stage: its database, role, files and secrets')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (slug: string, name: string, o: { yes?: boolean }) => {
      await cli.confirm(`This removes stage ${name} of ${slug} with its database and files`, name, o.yes);
      showTenant(
        cli,
        await cli.client().api.delete('/api/v1/tenants/{tenant}/stages/{stage}', {
          params: { tenant: slug, stage: name },
        }),
      );
    });
  stage
    .command('credentials <tenant> <stage>')
    .description("print the stage's DATABASE_URL (the read is audited)")
    .action(async (slug: string, name: string) => {
      const credentials = await cli.client().api.get('/api/v1/tenants/{tenant}/stages/{stage}/credentials', {
        params: { tenant: slug, stage: name },
      });
      if (cli.json()) return printJson(credentials);
      process.stdout.write(`DATABASE_URL=${credentials.databaseUrl}\n`);
    });
  return { tenant, stage };
}

function showTenant(
  cli: TenantCliContext,
  tenant: Omit<TenantView, 'stages'> & {
    stages: readonly (TenantView['stages'][number] & { backup?: StageBackup; replication?: string })[];
    isolation?: TenantShow['isolation'];
  },
): void {
  if (cli.json()) return printJson(tenant);
  process.stdout.write(
    `tenant ${tenant.slug} (${tenant.displayName}): ${tenant.phase}\n` +
      `region ${tenant.region} (${tenant.geography}), tier ${tenant.tier}, created ${tenant.createdAt}\n\n`,
  );
  // An ha stage's cluster commits synchronously (no acknowledged commit lost in a failover) or not.
  const ha = tenant.stages.some((s) => s.replication !== undefined);
  printTable(
    ['stage', 'phase', 'database', ...(ha ? ['replication'] : []), 'backup', 'reason'],
    tenant.stages.map((s) => [
      s.name,
      s.phase,
      s.database,
      ...(ha ? [s.replication ?? null] : []),
      backupCell(s.backup),
      s.reason,
    ]),
  );
  if (tenant.isolation) process.stdout.write(`\n${describeIsolation(tenant.isolation)}\n`);
}

/** The newest good backup and its age; "-" when there is none (or not shown). */
function backupCell(backup: StageBackup | undefined): string | null {
  if (!backup) return null;
  if ('error' in backup) return `error: ${backup.error.split('\n')[0]?.slice(0, 60) ?? ''}`;
  return `${backup.type} ${formatAge(backup.ageSeconds)} ago`;
}

async function waitForTenant(
  cli: TenantCliContext,
  slug: string,
  until: 'ready' | 'gone',
  timeoutMs = 180_000,
): Promise<TenantView | undefined> {
  const api = cli.client();
  const progress = progressReporter(!cli.json());
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      let tenant: TenantView;
      try {
        tenant = await api.api.get('/api/v1/tenants/{tenant}', { params: { tenant: slug } });
      } catch (error) {
        if (until === 'gone' && error instanceof ApiError && error.status === 404) return undefined;
        throw error;
      }
      const ready = tenant.stages.filter((s) => s.phase === 'ready').length;
      const failed = tenant.stages.find((s) => s.phase === 'failed');
      if (failed) throw new Error(`stage ${failed.name} of ${slug} failed: ${failed.reason}`);
      if (until === 'ready' && tenant.stages.every((s) => s.phase === 'ready')) return tenant;
      progress.update(
        until === 'ready'
          ? `${slug}: ${ready}/${tenant.stages.length} stages ready`
          : `${slug}: deleting, ${tenant.stages.length} stages left`,
      );
      if (Date.now() > deadline) {
        throw new Error(
          `${slug} did not become ${until} within ${timeoutMs / 1000} s; "steward tenant show ${slug}" shows why`,
        );
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    progress.done();
  }
}
