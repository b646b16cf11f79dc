import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import type { issuedTokenSchema } from '../api/contracts/identity.ts';
import type { OperatorRole, TokenScope } from '../core/policy.ts';
import { ApiError, type ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';
import { readStdin } from './prompt.ts';
import { refuseSecretOption, SecretReader } from './secret-input.ts';

/**
 * The account commands: `login`, `password`, `token`, `operator` and `mfa`.
 * Thin over the API; no secret is taken from the command line (see
 * secret-input.ts).
 */
export interface AccountCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
  /** Where "steward login" keeps its token. */
  readonly sessionFile: () => string;
  readonly confirm: (what: string, expected: string, yes: boolean | undefined) => Promise<void>;
  /** STEWARD_PASSWORD and STEWARD_NEW_PASSWORD, as read from the environment. */
  readonly secretEnv: Readonly<Record<string, string | undefined>>;
}

/** Keeps a sign-in's token in the session file (only its owner may read it); returns the file. */
export async function keepSession(file: string, api: ApiClient, token: string): Promise<string> {
  await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
  await writeFile(
    file,
    `${JSON.stringify({ apiUrl: api.connection.apiUrl, ca: api.connection.ca, token }, null, 2)}\n`,
    { mode: 0o600 },
  );
  return file;
}

export function accountCommands(program: Command, ctx: AccountCliContext): void {
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
      const secrets = new SecretReader(ctx.secretEnv, o.passwordStdin ? '--password-stdin' : undefined);
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
      const api = ctx.client();
      let issued: z.output<typeof issuedTokenSchema>;
      try {
        issued = await api.api.post('/api/v1/auth/login', { body });
      } catch (error) {
        // A one-time password: on a terminal, ask for the new one at once rather than failing.
        const mustChange =
          error instanceof ApiError && error.status === 403 && error.body.field === 'newPassword';
        if (!mustChange || o.passwordStdin || !process.stdin.isTTY) throw error;
        process.stderr.write('The password was set for one use; choose a new one.\n');
        issued = await api.api.post('/api/v1/auth/login', {
          body: { ...body, newPassword: await newPassword() },
        });
      }
      const file = await keepSession(ctx.sessionFile(), api, issued.token);
      if (ctx.json())
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
      const secrets = new SecretReader(ctx.secretEnv, o.passwordStdin ? '--password-stdin' : undefined);
      const currentPassword = await secrets.read({ name: 'current password', env: 'STEWARD_PASSWORD' });
      const newPassword = await secrets.read({
        name: 'new password',
        env: 'STEWARD_NEW_PASSWORD',
        confirm: true,
      });
      const result = await ctx.client().api.post('/api/v1/auth/password', {
        body: { currentPassword, newPassword },
      });
      if (ctx.json()) return printJson(result);
      process.stdout.write('password changed; your other sessions and API tokens were revoked\n');
    });

  const token = program.command('token').description('API tokens: shown once, stored hashed');
  token
    .command('create <name>')
    .description('create an API token')
    .option('--role <role>', 'owner, operator or auditor (at most your own)')
    .option('--scope <scope>', 'only these routes: alertmanager (POST /api/alerts/alertmanager)')
    .option(
      '--expires-in-days <days>',
      'days until it expires (default and most: identity.maxTokenLifetimeDays, 90)',
    )
    .action(async (name: string, o: { role?: string; scope?: string; expiresInDays?: string }) => {
      const issued = await ctx.client().api.post('/api/v1/tokens', {
        body: {
          name,
          // The API names what it accepts.
          ...(o.role ? { role: o.role as OperatorRole } : {}),
          ...(o.scope ? { scope: o.scope as TokenScope } : {}),
          ...(o.expiresInDays ? { expiresInDays: Number(o.expiresInDays) } : {}),
        },
      });
      if (ctx.json()) return printJson(issued);
      process.stdout.write(
        `token ${issued.id} (${issued.role}, expires ${issued.expiresAt ?? 'never'}):\n${issued.token}\nIt is shown only now.\n`,
      );
    });
  token
    .command('list')
    .description('list API tokens')
    .action(async () => {
      const tokens = await ctx.client().api.all('/api/v1/tokens');
      if (ctx.json()) return printJson(tokens);
      printTable(
        ['id', 'name', 'operator', 'role', 'prefix', 'expires', 'revoked', 'last used'],
        tokens.map((t) => [
          t.id,
          t.name,
          t.operator,
          t.role,
          t.prefix,
          t.expiresAt,
          t.revokedAt,
          t.lastUsedAt,
        ]),
      );
    });
  token
    .command('revoke <id>')
    .description("revoke one of your API tokens, or (owners, --operator) another operator's")
    .option('--operator <username>', 'the operator whose token it is (owners only; audited)')
    .action(async (id: string, o: { operator?: string }) => {
      const { api } = ctx.client();
      const revoked = o.operator
        ? await api.delete('/api/v1/operators/{username}/tokens/{id}', {
            params: { username: o.operator, id },
          })
        : await api.delete('/api/v1/tokens/{id}', { params: { id } });
      if (ctx.json()) return printJson(revoked);
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
      const result = await ctx.client().api.post('/api/v1/operators', {
        body: { username, role: o.role as OperatorRole, ...(password ? { password } : {}) },
      });
      if (ctx.json()) return printJson(result);
      process.stdout.write(`operator ${username} added as ${o.role}\n`);
      if (result.password)
        process.stdout.write(`one-time password: ${result.password} (must be changed at first login)\n`);
    });
  operator
    .command('list')
    .description('list operators')
    .action(async () => {
      const operators = await ctx.client().api.all('/api/v1/operators');
      if (ctx.json()) return printJson(operators);
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
      await ctx.confirm(`This removes operator ${username}`, username, o.yes);
      const result = await ctx.client().api.delete('/api/v1/operators/{username}', { params: { username } });
      if (ctx.json()) return printJson(result);
      process.stdout.write(`operator ${username} removed\n`);
    });

  const mfa = program.command('mfa').description('TOTP multi-factor authentication for operators');
  mfa
    .command('enroll')
    .description('start TOTP enrolment: prints the secret and an otpauth:// URI for the authenticator app')
    .action(async () => {
      const result = await ctx.client().api.post('/api/v1/auth/mfa/enroll');
      if (ctx.json()) return printJson(result);
      process.stdout.write(
        `secret: ${result.secret}\nuri:    ${result.uri}\nthen: steward mfa verify <code>\n`,
      );
    });
  mfa
    .command('verify <code>')
    .description('confirm enrolment with a code from the app; prints recovery codes once')
    .action(async (code: string) => {
      const result = await ctx.client().api.post('/api/v1/auth/mfa/verify', { body: { code } });
      if (ctx.json()) return printJson(result);
      process.stdout.write(
        `MFA enabled. Recovery codes (each works once; keep them safe):\n${result.recoveryCodes.join('\n')}\n`,
      );
    });
  mfa
    .command('reset <username>')
    .description("turn off an operator's MFA (owners only)")
    .action(async (username: string) => {
      const result = await ctx
        .client()
        .api.post('/api/v1/operators/{username}/mfa/reset', { params: { username } });
      if (ctx.json()) return printJson(result);
      process.stdout.write(`MFA of ${username} reset\n`);
    });
}
