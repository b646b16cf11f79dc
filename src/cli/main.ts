import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { configJsonSchema } from '../core/config.ts';
import { packDirectory } from '../system/pack.ts';
import { readEnvironment } from '../core/env.ts';
import { ApiClient, ApiError, resolveConnection } from './client.ts';
import { formatBytes, printJson, printTable, progressReporter, type OutputFormat } from './output.ts';
import { runtimeCommands } from './runtime-commands.ts';
import { gatewayCommands } from './gateway-commands.ts';
import { exportCommands } from './export-commands.ts';
import { backupCommands, formatAge } from './backup-commands.ts';
import { restoreCommands } from './restore-commands.ts';
import { drillCommands } from './drill-commands.ts';
import { applianceCommands } from './appliance-commands.ts';
import { notifyCommands } from './notify-commands.ts';
import { checkCommands } from './check-commands.ts';
import { alertCommands } from './alert-commands.ts';
import { oncallCommands } from './oncall-commands.ts';
import { slaCommands } from './sla-commands.ts';
import { statusCommands } from './status-commands.ts';
import { incidentCommands } from './incident-commands.ts';
import { contactCommands } from './contact-commands.ts';
import { scimCommands } from './scim-commands.ts';
import { healCommands } from './heal-commands.ts';
import { nodeCommands } from './node-commands.ts';
import { settingsCommands } from './settings-commands.ts';
import { maintenanceCommands } from './maintenance-commands.ts';
import { directoryCommands } from './directory-commands.ts';
import { identityCommands } from './identity-commands.ts';
import { identityOidcCommands } from './identity-oidc-commands.ts';
import { userCommands } from './user-commands.ts';
import { identityRolesCommands } from './identity-roles-commands.ts';
import { ask } from './prompt.ts';
import { refuseSecretOption } from './secret-input.ts';
import { tenantAdminCommands } from './tenant-admin-commands.ts';
import { accountCommands } from './account-commands.ts';
import type { paths } from '../api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../api/client/typed.ts';
import { describeVerifyReport } from '../audit/report.ts';
import { appDefinitionJsonSchema } from '../runtime/app-definition.ts';
import { describeIsolation, type IsolationReport } from '../runtime/sandbox/index.ts';

/**
 * The steward CLI: thin commands over the API. Tables by default, `-o json`
 * on request, a non-zero exit on any error.
 */
const env = readEnvironment();

interface GlobalOptions {
  output: OutputFormat;
  dataDir?: string;
  apiUrl?: string;
  sessionFile: string;
}

const program = new Command('steward')
  .description('Steward: run your application for many customers, each in an isolated ecosystem')
  .addOption(
    new Option('-o, --output <format>', 'output format (html and pdf: sla report)')
      .choices(['table', 'json', 'html', 'pdf'])
      .default('table'),
  )
  .option('--data-dir <dir>', 'Steward data directory (client.json lives here)', env.dataDir)
  .option('--api-url <url>', 'API URL (default: from client.json)', env.apiUrl)
  .option(
    '--session-file <file>',
    'where "steward login" keeps its token',
    join(homedir(), '.config', 'steward', 'session.json'),
  )
  .showHelpAfterError();
refuseSecretOption(
  program,
  '--token',
  'set STEWARD_TOKEN for a token, or sign in with "steward login" (the session file) or use client.json',
);
// The secrets the CLI reads from the environment, by variable name.
const secretEnv = { STEWARD_PASSWORD: env.password, STEWARD_NEW_PASSWORD: env.newPassword };

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
const json = (): boolean => globals().output === 'json';
const client = (): ApiClient => {
  const g = globals();
  return new ApiClient(
    resolveConnection({ apiUrl: g.apiUrl, token: env.token, dataDir: g.dataDir, sessionFile: g.sessionFile }),
  );
};
const enc = encodeURIComponent;

type TenantView = ResponseBody<paths, '/api/v1/tenants', 'post'>;
type TenantInput = RequestBody<paths, '/api/v1/tenants', 'post'>;
/** `tenant show`: each stage with its backup freshness and (ha) replication, and the machine's isolation. */
type TenantShow = ResponseBody<paths, '/api/v1/tenants/{tenant}'>;
type StageBackup = TenantShow['stages'][number]['backup'];
type ReleaseView = ResponseBody<paths, '/api/v1/releases/{app}/{version}'>;
type AddedRelease = ResponseBody<paths, '/api/v1/releases', 'post'>;

function showTenant(
  tenant: Omit<TenantView, 'stages'> & {
    stages: readonly (TenantView['stages'][number] & { backup?: StageBackup; replication?: string })[];
    isolation?: TenantShow['isolation'];
  },
): void {
  if (json()) return printJson(tenant);
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
  slug: string,
  until: 'ready' | 'gone',
  timeoutMs = 180_000,
): Promise<TenantView | undefined> {
  const api = client();
  const progress = progressReporter(!json());
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

/** A stage's address through the gateway: https://<stage>.<tenant>.<base-domain>:<port>. */
function stageUrl(gatewayUrl: string, tenant: string, stage: string): string {
  const url = new URL(gatewayUrl);
  url.hostname = `${stage}.${tenant}.${url.hostname}`;
  return url.origin;
}

async function confirm(what: string, expected: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new Error(`${what}: pass --yes to confirm (no terminal to ask on)`);
  const answer = await ask(`${what}. Type "${expected}" to confirm: `);
  if (answer.trim() !== expected) throw new Error('not confirmed; nothing was changed');
}

// steward up
program
  .command('up')
  .description('run Steward on this machine: its own PostgreSQL, the API and the workers')
  .option('--api-port <port>', 'API port', (v) => Number(v))
  .option('--api-host <host>', 'API listen address')
  .option('--demo', 'on the first start, run the sample app for tenant "demo" in dev, test and prod')
  .option('--gateway-port <port>', 'gateway HTTPS port (default 8443, or a free one if taken)', (v) =>
    Number(v),
  )
  .option('--gateway-http-port <port>', 'gateway redirect-only HTTP port (0: none)', (v) => Number(v))
  .addOption(
    new Option('--role <role>', 'all: everything; gateway: only the gateway, on the same control database')
      .choices(['all', 'gateway'])
      .default('all'),
  )
  .action(
    async (options: {
      apiPort?: number;
      apiHost?: string;
      demo?: boolean;
      gatewayPort?: number;
      gatewayHttpPort?: number;
      role: 'all' | 'gateway';
    }) => {
      const { up } = await import('../up.ts');
      const dataDir = globals().dataDir ?? '.steward';
      const say = (message: string): void => {
        if (!json()) process.stderr.write(`${message}\n`);
      };
      const overrides: Record<string, unknown> = {};
      if (options.apiPort !== undefined || options.apiHost !== undefined) {
        overrides.api = {
          ...(options.apiPort !== undefined ? { port: options.apiPort } : {}),
          ...(options.apiHost ? { host: options.apiHost } : {}),
        };
      }
      if (options.gatewayPort !== undefined || options.gatewayHttpPort !== undefined) {
        overrides.gateway = {
          ...(options.gatewayPort !== undefined ? { port: options.gatewayPort } : {}),
          ...(options.gatewayHttpPort !== undefined ? { httpPort: options.gatewayHttpPort } : {}),
        };
      }
      const running = await up({
        dataDir,
        env,
        overrides,
        progress: say,
        demo: options.demo === true,
        role: options.role,
      });
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        say(`${signal}: stopping`);
        const deadline = setTimeout(() => process.exit(1), 30_000);
        deadline.unref();
        void running.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      if (options.role === 'gateway') {
        if (json())
          printJson({ gatewayUrl: running.gatewayUrl ?? null, consoleUrl: running.consoleUrl ?? null });
        else
          process.stdout.write(
            `Steward gateway is running.\n  Gateway:     ${running.gatewayUrl ?? '-'}\n` +
              (running.consoleUrl ? `  Console:     ${running.consoleUrl} (to a live API node)\n` : ''),
          );
        return;
      }
      if (json()) {
        printJson({
          apiUrl: running.apiUrl,
          gatewayUrl: running.gatewayUrl ?? null,
          consoleUrl: running.consoleUrl ?? null,
          clientFile: running.clientFile,
          firstOwner: running.firstOwner ?? null,
          demo: running.demo ?? null,
          isolation: running.steward.services.isolation,
        });
      } else {
        process.stdout.write(
          `Steward is running.\n  API:         ${running.apiUrl}\n` +
            (running.gatewayUrl
              ? `  Gateway:     ${running.gatewayUrl} (a stage: https://<stage>.<tenant>.${running.config.gateway.baseDomain}:${new URL(running.gatewayUrl).port || 443})\n`
              : '') +
            (running.consoleUrl ? `  Console:     ${running.consoleUrl}\n` : '') +
            `  CLI config:  ${running.clientFile}\n` +
            isolationLine(running.steward.services.isolation),
        );
        if (running.firstOwner) {
          process.stdout.write(
            `  First owner: ${running.firstOwner.username}, one-time password ${running.firstOwner.password}\n` +
              `               (change it at first login: steward login --username admin)\n`,
          );
        }
        if (running.demo) {
          process.stdout.write(
            `  Demo tenant: ${running.demo.tenant}, the sample app ${running.demo.release}\n`,
          );
          for (const [stage, url] of Object.entries(running.demo.urls)) {
            const through = running.gatewayUrl
              ? stageUrl(running.gatewayUrl, running.demo.tenant, stage)
              : url;
            process.stdout.write(
              `               ${stage.padEnd(5)} ${through}${through === url ? '' : `  (direct: ${url})`}\n`,
            );
          }
          if (running.gatewayUrl) {
            process.stdout.write(`               (trust ${join(dataDir, 'ca.pem')}: curl --cacert)\n`);
          }
        }
        process.stdout.write('Press Ctrl-C to stop.\n');
      }
    },
  );

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
        if (!match) throw new Error(`--contact ${JSON.stringify(c)}: write it as "Name <email@example.com>"`);
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
      let created = await client().api.post('/api/v1/tenants', { body });
      if (o.wait) created = (await waitForTenant(slug, 'ready')) ?? created;
      showTenant(created);
    },
  );
tenant
  .command('list')
  .description('list tenants')
  .action(async () => {
    const tenants = await client().api.all('/api/v1/tenants');
    if (json()) return printJson(tenants);
    printTable(
      ['tenant', 'phase', 'region', 'tier', 'stages'],
      tenants.map((t) => [t.slug, t.phase, t.region, t.tier, t.stages.map((s) => s.name).join(',')]),
    );
  });
tenant
  .command('show <slug>')
  .description('show a tenant, its stages, their phases and reasons')
  .action(async (slug: string) =>
    showTenant(await client().api.get('/api/v1/tenants/{tenant}', { params: { tenant: slug } })),
  );
tenant
  .command('delete <slug>')
  .description('delete a tenant: databases, roles, files and secrets of every stage')
  .option('-y, --yes', 'do not ask for confirmation')
  .option('--no-wait', 'return at once instead of waiting until it is gone')
  .action(async (slug: string, o: { yes?: boolean; wait: boolean }) => {
    const api = client().api;
    await api.get('/api/v1/tenants/{tenant}', { params: { tenant: slug } });
    await confirm(`This deletes tenant ${slug} with all its databases and files`, slug, o.yes);
    const result = await api.delete('/api/v1/tenants/{tenant}', { params: { tenant: slug } });
    if (o.wait) await waitForTenant(slug, 'gone');
    if (json()) return printJson(o.wait ? { deleted: slug } : result);
    process.stdout.write(o.wait ? `tenant ${slug} deleted\n` : `tenant ${slug} is being deleted\n`);
  });

const stage = program.command('stage').description("a tenant's stages (dev, test, prod, ...)");
stage
  .command('add <tenant> <stage>')
  .description('add a stage to a tenant')
  .option('--no-wait', 'return at once')
  .action(async (slug: string, name: string, o: { wait: boolean }) => {
    let view = await client().api.post('/api/v1/tenants/{tenant}/stages', {
      params: { tenant: slug },
      body: { name },
    });
    if (o.wait) view = (await waitForTenant(slug, 'ready')) ?? view;
    showTenant(view);
  });
stage
  .command('remove <tenant> <stage>')
  .description('remove a stage: its database, role, files and secrets')
  .option('-y, --yes', 'do not ask for confirmation')
  .action(async (slug: string, name: string, o: { yes?: boolean }) => {
    await confirm(`This removes stage ${name} of ${slug} with its database and files`, name, o.yes);
    showTenant(
      await client().api.delete('/api/v1/tenants/{tenant}/stages/{stage}', {
        params: { tenant: slug, stage: name },
      }),
    );
  });
stage
  .command('credentials <tenant> <stage>')
  .description("print the stage's DATABASE_URL (the read is audited)")
  .action(async (slug: string, name: string) => {
    const credentials = await client().api.get('/api/v1/tenants/{tenant}/stages/{stage}/credentials', {
      params: { tenant: slug, stage: name },
    });
    if (json()) return printJson(credentials);
    process.stdout.write(`DATABASE_URL=${credentials.databaseUrl}\n`);
  });

const audit = program.command('audit').description('the tamper-evident audit log');
audit
  .command('list')
  .description('list audit events, oldest first')
  .option('--tenant <slug>', 'only events of this tenant')
  .option('--since <time>', 'only events at or after this ISO time (e.g. 2026-11-23T10:00:00Z)')
  .option('--action <action>', 'only this action (e.g. tenant.create)')
  .option('--limit <n>', 'at most this many events', '200')
  .action(async (o: { tenant?: string; since?: string; action?: string; limit: string }) => {
    const { events } = await client().api.get('/api/v1/audit', {
      query: {
        limit: Number(o.limit),
        ...(o.tenant ? { tenant: o.tenant } : {}),
        ...(o.since ? { since: o.since } : {}),
        ...(o.action ? { action: o.action } : {}),
      },
    });
    if (json()) return printJson(events);
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
    const report = await client().api.get('/api/v1/audit/verify');
    if (json()) printJson(report);
    else process.stdout.write(describeVerifyReport(report));
    if (!report.ok) process.exitCode = 3;
  });

accountCommands(program, { client, json, sessionFile: () => globals().sessionFile, confirm, secretEnv });
tenantAdminCommands(program, { client, json, sessionFile: () => globals().sessionFile, confirm, secretEnv });

const secrets = program.command('secrets').description('secrets at rest');
secrets
  .command('rotate-master-key')
  .description('re-wrap every secret with a new master key, without downtime')
  .action(async () => {
    const report = await client().api.post('/api/v1/secrets/rotate-master-key');
    if (json()) return printJson(report);
    process.stdout.write(
      `master key rotated: ${report.previousKeyId} -> ${report.keyId}, ${report.rewrapped} secrets re-wrapped\n`,
    );
  });

secrets
  .command('keys')
  .description('the active master key, and the retired ones kept for restored backups')
  .action(async () => {
    const keys = await client().api.get('/api/v1/secrets/master-keys');
    if (json()) return printJson(keys);
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
    await confirm(
      'This drops the retired master keys older than the longest backup retention; restored backups that need them can no longer be read',
      'purge',
      o.yes,
    );
    const report = await client().api.post('/api/v1/secrets/purge-retired-keys');
    if (json()) return printJson(report);
    process.stdout.write(
      report.purged.length === 0
        ? 'no retired master keys to purge\n'
        : `purged ${report.purged.map((k) => `${k.id} (retired ${k.retiredAt})`).join(', ')}\n`,
    );
    for (const k of report.kept) process.stdout.write(`kept ${k.id}: purgeable from ${k.purgeableAt}\n`);
  });

function showRelease(release: ReleaseView): void {
  if (json()) return printJson(release);
  const d = release.definition;
  process.stdout.write(
    `release ${release.app} ${release.version}\n` +
      `checksum ${release.checksum}\nsize     ${formatBytes(release.sizeBytes)}\n` +
      `path     ${release.path}\ncreated  ${release.createdAt}\n` +
      `health   ${d.health ? `${d.health.path} every ${d.health.intervalSeconds} s` : '-'}\n` +
      `migrate  ${d.migrate?.command ?? '-'}\n\n`,
  );
  printTable(
    ['process', 'command', 'port', 'instances'],
    Object.entries(d.processes).map(([name, p]) => [name, p.command, p.port ? 'yes' : 'no', p.instances]),
  );
}

const release = program.command('release').description('releases: immutable, versioned copies of the app');
release
  .command('add <source>')
  .description('add a release from a directory or a .tar.gz; it carries its steward.yaml')
  .requiredOption('--version <version>', 'release version, for example 1.0.0')
  .action(async (source: string, o: { version: string }) => {
    const progress = progressReporter(!json());
    try {
      const info = await stat(source).catch(() => {
        throw new Error(`${source} does not exist; give a directory or a .tar.gz file`);
      });
      const archive = info.isDirectory()
        ? await packDirectory(source, (bytes) => progress.update(`packing ${source}: ${formatBytes(bytes)}`))
        : await readFile(source);
      const added = await client().upload<AddedRelease>(
        `/api/v1/releases?version=${enc(o.version)}`,
        archive,
        'application/gzip',
        (sent, total) =>
          progress.update(
            sent < total
              ? `uploading: ${formatBytes(sent)} of ${formatBytes(total)} (${Math.floor((sent / total) * 100)} %)`
              : `uploaded ${formatBytes(total)}; unpacking and building on the server`,
          ),
      );
      progress.done();
      if (json()) return printJson(added);
      process.stdout.write(
        added.created
          ? `release ${added.app} ${added.version} added (${added.checksum}, ${formatBytes(added.sizeBytes)})\n`
          : `release ${added.app} ${added.version} is already there with the same content (${added.checksum})\n`,
      );
    } finally {
      progress.done();
    }
  });
release
  .command('list')
  .description('list releases')
  .option('--app <name>', 'only releases of this app')
  .action(async (o: { app?: string }) => {
    const releases = await client().api.all('/api/v1/releases', { query: o.app ? { app: o.app } : {} });
    if (json()) return printJson(releases);
    printTable(
      ['app', 'version', 'checksum', 'size', 'processes', 'created'],
      releases.map((r) => [
        r.app,
        r.version,
        r.checksum.slice(0, 19),
        formatBytes(r.sizeBytes),
        Object.keys(r.definition.processes).join(','),
        r.createdAt,
      ]),
    );
  });
release
  .command('show <app> <version>')
  .description('show a release: checksum, size, processes and health settings')
  .action(async (app: string, version: string) =>
    showRelease(await client().api.get('/api/v1/releases/{app}/{version}', { params: { app, version } })),
  );
release
  .command('remove <app> <version>')
  .description('remove a release that no stage runs')
  .option('-y, --yes', 'do not ask for confirmation')
  .action(async (app: string, version: string, o: { yes?: boolean }) => {
    const api = client().api;
    await api.get('/api/v1/releases/{app}/{version}', { params: { app, version } });
    await confirm(`This removes release ${app} ${version} and its files`, version, o.yes);
    const removed = await api.delete('/api/v1/releases/{app}/{version}', { params: { app, version } });
    if (json()) return printJson(removed);
    process.stdout.write(`release ${removed.app} ${removed.version} removed\n`);
  });

runtimeCommands(program, { client, json, stage });
gatewayCommands(program, { client, json });
exportCommands(program, { client, json });
backupCommands(program, { client, json });
restoreCommands(program, { client, json });
drillCommands(program, { client, json });
// After drillCommands: `drill node-loss` joins the `drill` command it creates.
applianceCommands(program, { json, dataDir: () => globals().dataDir ?? '.steward' });
notifyCommands(program, { client, json });
checkCommands(program, { client, json });
alertCommands(program, { client, json });
oncallCommands(program, { client, json });
slaCommands(program, { client, output: () => globals().output });
incidentCommands(program, { client, json });
statusCommands(program, { client, json });
contactCommands(tenant, { client, json });
healCommands(program, { client, json });
nodeCommands(program, { client, json });
settingsCommands(program, { client, json });
maintenanceCommands(program, { client, json });
directoryCommands(program, { client, json });
scimCommands(program, { client, json });
identityCommands(program, { client, json });
identityOidcCommands(program, { client, json });
// After identityCommands: `identity roles` joins the `identity` command it creates.
identityRolesCommands(program, { client, json });
userCommands(program, { client, json, confirm });

program
  .command('app')
  .description('the app definition (steward.yaml of a release)')
  .command('schema')
  .description('print the JSON schema of the app definition, for editors')
  .action(() => printJson(appDefinitionJsonSchema()));

program
  .command('config')
  .description('configuration helpers')
  .command('schema')
  .description('print the JSON schema of steward.yaml, for editors')
  .action(() => printJson(configJsonSchema()));

function fail(error: unknown): never {
  if (error instanceof ApiError) {
    if (json()) process.stdout.write(`${JSON.stringify({ error: error.body }, null, 2)}\n`);
    process.stderr.write(
      `error: ${error.body.message}${error.body.field ? ` (field: ${error.body.field})` : ''}\n`,
    );
  } else {
    const message = error instanceof Error ? error.message : String(error);
    if (json()) process.stdout.write(`${JSON.stringify({ error: { code: 'cli', message } }, null, 2)}\n`);
    process.stderr.write(`error: ${message}\n`);
  }
  process.exit(1);
}

program.parseAsync(process.argv).catch(fail);

/** The summary's isolation line, aligned with the others; a reduced one keeps its whole warning. */
function isolationLine(report: IsolationReport): string {
  const text = describeIsolation(report);
  return report.level === 'full'
    ? `  Isolation:   ${text.replace(/^isolation: /, '')}\n`
    : `  ${text.replaceAll('\n', '\n  ')}\n`;
}
