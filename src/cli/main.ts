import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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
import type { StageBackup } from '../backups/service.ts';
import { ask, readStdin } from './prompt.ts';
import { refuseSecretOption, SecretReader } from './secret-input.ts';
import type { StageView, TenantView } from '../tenants/service.ts';
import type { IssuedToken, OperatorView, TokenView } from '../identity/operators.ts';
import type { ChainedEvent } from '../audit/chain.ts';
import type { VerifyReport } from '../audit/service.ts';
import { appDefinitionJsonSchema } from '../runtime/app-definition.ts';
import type { AddedRelease, ReleaseView } from '../runtime/releases.ts';

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
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
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

function showTenant(
  tenant: Omit<TenantView, 'stages'> & { stages: readonly (StageView & { backup?: StageBackup })[] },
): void {
  if (json()) return printJson(tenant);
  process.stdout.write(
    `tenant ${tenant.slug} (${tenant.displayName}): ${tenant.phase}\n` +
      `region ${tenant.region} (${tenant.geography}), tier ${tenant.tier}, created ${tenant.createdAt}\n\n`,
  );
  printTable(
    ['stage', 'phase', 'database', 'backup', 'reason'],
    tenant.stages.map((s) => [s.name, s.phase, s.database, backupCell(s.backup), s.reason]),
  );
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
        tenant = await api.get<TenantView>(`/api/v1/tenants/${enc(slug)}`);
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
        if (json()) printJson({ gatewayUrl: running.gatewayUrl ?? null });
        else
          process.stdout.write(`Steward gateway is running.\n  Gateway:     ${running.gatewayUrl ?? '-'}\n`);
        return;
      }
      if (json()) {
        printJson({
          apiUrl: running.apiUrl,
          gatewayUrl: running.gatewayUrl ?? null,
          clientFile: running.clientFile,
          firstOwner: running.firstOwner ?? null,
          demo: running.demo ?? null,
        });
      } else {
        process.stdout.write(
          `Steward is running.\n  API:         ${running.apiUrl}\n` +
            (running.gatewayUrl
              ? `  Gateway:     ${running.gatewayUrl} (a stage: https://<stage>.<tenant>.${running.config.gateway.baseDomain}:${new URL(running.gatewayUrl).port || 443})\n`
              : '') +
            `  CLI config:  ${running.clientFile}\n`,
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
  .option('--tier <tier>', 'database tier: shared', 'shared')
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
        tier: o.tier,
        contacts,
        ...(o.stages ? { stages: o.stages.split(',').map((s) => s.trim()) } : {}),
        ...(o.region ? { region: o.region } : {}),
        ...(o.displayName ? { displayName: o.displayName } : {}),
      };
      let created = await client().post<TenantView>('/api/v1/tenants', body);
      if (o.wait) created = (await waitForTenant(slug, 'ready')) ?? created;
      showTenant(created);
    },
  );
tenant
  .command('list')
  .description('list tenants')
  .action(async () => {
    const { tenants } = await client().get<{ tenants: TenantView[] }>('/api/v1/tenants');
    if (json()) return printJson(tenants);
    printTable(
      ['tenant', 'phase', 'region', 'tier', 'stages'],
      tenants.map((t) => [t.slug, t.phase, t.region, t.tier, t.stages.map((s) => s.name).join(',')]),
    );
  });
tenant
  .command('show <slug>')
  .description('show a tenant, its stages, their phases and reasons')
  .action(async (slug: string) => showTenant(await client().get<TenantView>(`/api/v1/tenants/${enc(slug)}`)));
tenant
  .command('delete <slug>')
  .description('delete a tenant: databases, roles, files and secrets of every stage')
  .option('-y, --yes', 'do not ask for confirmation')
  .option('--no-wait', 'return at once instead of waiting until it is gone')
  .action(async (slug: string, o: { yes?: boolean; wait: boolean }) => {
    await client().get<TenantView>(`/api/v1/tenants/${enc(slug)}`);
    await confirm(`This deletes tenant ${slug} with all its databases and files`, slug, o.yes);
    const result = await client().delete<TenantView>(`/api/v1/tenants/${enc(slug)}`);
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
    let view = await client().post<TenantView>(`/api/v1/tenants/${enc(slug)}/stages`, { name });
    if (o.wait) view = (await waitForTenant(slug, 'ready')) ?? view;
    showTenant(view);
  });
stage
  .command('remove <tenant> <stage>')
  .description('remove a stage: its database, role, files and secrets')
  .option('-y, --yes', 'do not ask for confirmation')
  .action(async (slug: string, name: string, o: { yes?: boolean }) => {
    await confirm(`This removes stage ${name} of ${slug} with its database and files`, name, o.yes);
    showTenant(await client().delete<TenantView>(`/api/v1/tenants/${enc(slug)}/stages/${enc(name)}`));
  });
stage
  .command('credentials <tenant> <stage>')
  .description("print the stage's DATABASE_URL (the read is audited)")
  .action(async (slug: string, name: string) => {
    const credentials = await client().get<{ databaseUrl: string }>(
      `/api/v1/tenants/${enc(slug)}/stages/${enc(name)}/credentials`,
    );
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
    const query = new URLSearchParams({ limit: o.limit });
    if (o.tenant) query.set('tenant', o.tenant);
    if (o.since) query.set('since', o.since);
    if (o.action) query.set('action', o.action);
    const { events } = await client().get<{ events: ChainedEvent[] }>(`/api/v1/audit?${query.toString()}`);
    if (json()) return printJson(events);
    printTable(
      ['seq', 'at', 'actor', 'action', 'target', 'outcome'],
      events.map((e) => [e.seq, e.at, e.actor, e.action, e.target, e.outcome]),
    );
  });
audit
  .command('verify')
  .description('verify the hash chain: reports the first changed, inserted or deleted event')
  .action(async () => {
    const report = await client().get<VerifyReport>('/api/v1/audit/verify');
    if (json()) printJson(report);
    else if (report.ok) process.stdout.write(`audit log intact: ${report.checked} events verified\n`);
    else process.stdout.write(`AUDIT LOG TAMPERED: ${report.problem?.message ?? 'unknown problem'}\n`);
    if (!report.ok) process.exitCode = 3;
  });

const login = program
  .command('login')
  .description('sign in as an operator; the token is kept in the session file')
  .requiredOption('-u, --username <name>', 'operator name')
  .option(
    '--password-stdin',
    'read the password from stdin (then, one per line, the new password and the recovery code, when asked for)',
  )
  .option('--totp <code>', 'the 6-digit code from the authenticator app (good once, for 30 s)')
  .option('--recovery', 'use a recovery code instead of a TOTP code (asked for, or read from stdin)')
  .option(
    '--change-password',
    'set a new password (required after a one-time password): asked for twice, read from stdin, or STEWARD_NEW_PASSWORD',
  )
  .option('--expires-in-hours <hours>', 'token lifetime', '12');
refuseSecretOption(
  login,
  '--password',
  'pipe it with --password-stdin, set STEWARD_PASSWORD, or type it when asked',
);
refuseSecretOption(
  login,
  '--new-password',
  'add --change-password: the new password is asked for, read from stdin, or taken from STEWARD_NEW_PASSWORD',
);
refuseSecretOption(login, '--recovery-code', 'add --recovery: the code is asked for or read from stdin');
login.action(
  async (o: {
    username: string;
    passwordStdin?: boolean;
    totp?: string;
    recovery?: boolean;
    changePassword?: boolean;
    expiresInHours: string;
  }) => {
    const secrets = new SecretReader(secretEnv, o.passwordStdin ? '--password-stdin' : undefined);
    const newPassword = (): Promise<string> =>
      secrets.read({ name: 'new password', env: 'STEWARD_NEW_PASSWORD', confirm: true });
    const body = {
      username: o.username,
      password: await secrets.read({ name: 'password', env: 'STEWARD_PASSWORD' }),
      expiresInHours: Number(o.expiresInHours),
      ...(o.changePassword ? { newPassword: await newPassword() } : {}),
      ...(o.totp ? { totp: o.totp } : {}),
      ...(o.recovery ? { recoveryCode: await secrets.read({ name: 'recovery code' }) } : {}),
    };
    const api = client();
    let issued: IssuedToken;
    try {
      issued = await api.post<IssuedToken>('/api/v1/auth/login', body);
    } catch (error) {
      // A one-time password: on a terminal, ask for the new one at once rather than failing.
      const mustChange =
        error instanceof ApiError && error.status === 403 && error.body.field === 'newPassword';
      if (!mustChange || o.passwordStdin || !process.stdin.isTTY) throw error;
      process.stderr.write('The password was set for one use; choose a new one.\n');
      issued = await api.post<IssuedToken>('/api/v1/auth/login', {
        ...body,
        newPassword: await newPassword(),
      });
    }
    const file = globals().sessionFile;
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    await writeFile(
      file,
      `${JSON.stringify({ apiUrl: api.connection.apiUrl, ca: api.connection.ca, token: issued.token }, null, 2)}\n`,
      { mode: 0o600 },
    );
    if (json())
      return printJson({
        username: o.username,
        role: issued.role,
        expiresAt: issued.expiresAt,
        sessionFile: file,
      });
    process.stdout.write(
      `logged in as ${o.username} (${issued.role}) until ${issued.expiresAt ?? 'revoked'}; token kept in ${file}\n`,
    );
  },
);

program
  .command('password')
  .description('change your password; your other sessions and API tokens end (needs "steward login")')
  .option('--password-stdin', 'read the current password, then the new one, from stdin, one per line')
  .action(async (o: { passwordStdin?: boolean }) => {
    const secrets = new SecretReader(secretEnv, o.passwordStdin ? '--password-stdin' : undefined);
    const currentPassword = await secrets.read({ name: 'current password', env: 'STEWARD_PASSWORD' });
    const newPassword = await secrets.read({
      name: 'new password',
      env: 'STEWARD_NEW_PASSWORD',
      confirm: true,
    });
    const result = await client().post<{ changed: boolean }>('/api/v1/auth/password', {
      currentPassword,
      newPassword,
    });
    if (json()) return printJson(result);
    process.stdout.write('password changed; your other sessions and API tokens were revoked\n');
  });

const token = program.command('token').description('API tokens: shown once, stored hashed');
token
  .command('create <name>')
  .description('create an API token')
  .option('--role <role>', 'owner, operator or auditor (at most your own)')
  .option(
    '--expires-in-days <days>',
    'days until it expires (default and most: identity.maxTokenLifetimeDays, 90)',
  )
  .action(async (name: string, o: { role?: string; expiresInDays?: string }) => {
    const issued = await client().post<IssuedToken>('/api/v1/tokens', {
      name,
      ...(o.role ? { role: o.role } : {}),
      ...(o.expiresInDays ? { expiresInDays: Number(o.expiresInDays) } : {}),
    });
    if (json()) return printJson(issued);
    process.stdout.write(
      `token ${issued.id} (${issued.role}, expires ${issued.expiresAt ?? 'never'}):\n${issued.token}\nIt is shown only now.\n`,
    );
  });
token
  .command('list')
  .description('list API tokens')
  .action(async () => {
    const { tokens } = await client().get<{ tokens: TokenView[] }>('/api/v1/tokens');
    if (json()) return printJson(tokens);
    printTable(
      ['id', 'name', 'operator', 'role', 'prefix', 'expires', 'revoked', 'last used'],
      tokens.map((t) => [t.id, t.name, t.operator, t.role, t.prefix, t.expiresAt, t.revokedAt, t.lastUsedAt]),
    );
  });
token
  .command('revoke <id>')
  .description('revoke an API token')
  .action(async (id: string) => {
    const revoked = await client().delete<TokenView>(`/api/v1/tokens/${enc(id)}`);
    if (json()) return printJson(revoked);
    process.stdout.write(`token ${revoked.id} (${revoked.name}) revoked\n`);
  });

const operator = program.command('operator').description("operators: the vendor's ops team");
operator
  .command('add <username>')
  .description('add an operator; without --password-stdin a one-time password is printed')
  .requiredOption('--role <role>', 'owner, operator or auditor')
  .option('--password-stdin', 'read the password from stdin')
  .action(async (username: string, o: { role: string; passwordStdin?: boolean }) => {
    const password = o.passwordStdin ? await readStdin() : undefined;
    const result = await client().post<{ operator: OperatorView; password?: string }>('/api/v1/operators', {
      username,
      role: o.role,
      ...(password ? { password } : {}),
    });
    if (json()) return printJson(result);
    process.stdout.write(`operator ${username} added as ${o.role}\n`);
    if (result.password)
      process.stdout.write(`one-time password: ${result.password} (must be changed at first login)\n`);
  });
operator
  .command('list')
  .description('list operators')
  .action(async () => {
    const { operators } = await client().get<{ operators: OperatorView[] }>('/api/v1/operators');
    if (json()) return printJson(operators);
    printTable(
      ['username', 'role', 'mfa', 'last login', 'locked until'],
      operators.map((x) => [x.username, x.role, x.mfa ? 'yes' : 'no', x.lastLoginAt, x.lockedUntil]),
    );
  });
operator
  .command('remove <username>')
  .description('remove an operator and their tokens')
  .option('-y, --yes', 'do not ask for confirmation')
  .action(async (username: string, o: { yes?: boolean }) => {
    await confirm(`This removes operator ${username}`, username, o.yes);
    const result = await client().delete<{ removed: string }>(`/api/v1/operators/${enc(username)}`);
    if (json()) return printJson(result);
    process.stdout.write(`operator ${username} removed\n`);
  });

const mfa = program.command('mfa').description('TOTP multi-factor authentication for operators');
mfa
  .command('enroll')
  .description('start TOTP enrolment: prints the secret and an otpauth:// URI for the authenticator app')
  .action(async () => {
    const result = await client().post<{ secret: string; uri: string }>('/api/v1/auth/mfa/enroll');
    if (json()) return printJson(result);
    process.stdout.write(
      `secret: ${result.secret}\nuri:    ${result.uri}\nthen: steward mfa verify <code>\n`,
    );
  });
mfa
  .command('verify <code>')
  .description('confirm enrolment with a code from the app; prints recovery codes once')
  .action(async (code: string) => {
    const result = await client().post<{ recoveryCodes: string[] }>('/api/v1/auth/mfa/verify', { code });
    if (json()) return printJson(result);
    process.stdout.write(
      `MFA enabled. Recovery codes (each works once; keep them safe):\n${result.recoveryCodes.join('\n')}\n`,
    );
  });
mfa
  .command('reset <username>')
  .description("turn off an operator's MFA (owners only)")
  .action(async (username: string) => {
    const result = await client().post<{ reset: string }>(`/api/v1/operators/${enc(username)}/mfa/reset`);
    if (json()) return printJson(result);
    process.stdout.write(`MFA of ${username} reset\n`);
  });

const secrets = program.command('secrets').description('secrets at rest');
secrets
  .command('rotate-master-key')
  .description('re-wrap every secret with a new master key, without downtime')
  .action(async () => {
    const report = await client().post<{ previousKeyId: string; keyId: string; rewrapped: number }>(
      '/api/v1/secrets/rotate-master-key',
    );
    if (json()) return printJson(report);
    process.stdout.write(
      `master key rotated: ${report.previousKeyId} -> ${report.keyId}, ${report.rewrapped} secrets re-wrapped\n`,
    );
  });

interface RetiredKeyView {
  readonly id: string;
  readonly retiredAt: string;
  readonly purgeableAt: string;
}
secrets
  .command('keys')
  .description('the active master key, and the retired ones kept for restored backups')
  .action(async () => {
    const keys = await client().get<{
      activeKeyId: string;
      keys: RetiredKeyView[];
      retentionDays: number;
    }>('/api/v1/secrets/master-keys');
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
    const report = await client().post<{
      purged: RetiredKeyView[];
      kept: RetiredKeyView[];
      retentionDays: number;
    }>('/api/v1/secrets/purge-retired-keys');
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
    const query = o.app ? `?app=${enc(o.app)}` : '';
    const { releases } = await client().get<{ releases: ReleaseView[] }>(`/api/v1/releases${query}`);
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
    showRelease(await client().get<ReleaseView>(`/api/v1/releases/${enc(app)}/${enc(version)}`)),
  );
release
  .command('remove <app> <version>')
  .description('remove a release that no stage runs')
  .option('-y, --yes', 'do not ask for confirmation')
  .action(async (app: string, version: string, o: { yes?: boolean }) => {
    await client().get<ReleaseView>(`/api/v1/releases/${enc(app)}/${enc(version)}`);
    await confirm(`This removes release ${app} ${version} and its files`, version, o.yes);
    const removed = await client().delete<ReleaseView>(`/api/v1/releases/${enc(app)}/${enc(version)}`);
    if (json()) return printJson(removed);
    process.stdout.write(`release ${removed.app} ${removed.version} removed\n`);
  });

runtimeCommands(program, { client, json, stage });
gatewayCommands(program, { client, json });
exportCommands(program, { client, json });
backupCommands(program, { client, json });
restoreCommands(program, { client, json });

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
