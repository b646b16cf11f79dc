import type { Command } from 'commander';
import type { z } from 'zod';
import type { userViewSchema } from '../api/contracts/users.ts';
import { numberArg } from './args.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/**
 * `steward user …` (a tenant's end users) and `steward login-log`: thin over
 * the API, which checks every value.
 */
export interface UserCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
  readonly confirm: (what: string, expected: string, yes: boolean | undefined) => Promise<void>;
}

type UserView = z.output<typeof userViewSchema>;

function mfa(u: UserView): string {
  const keys = u.securityKeys > 0 ? `${u.securityKeys} key${u.securityKeys === 1 ? '' : 's'}` : '';
  const methods = [u.mfa ? 'totp' : '', keys].filter(Boolean).join('+');
  if (methods) return methods;
  return u.mfaRequired ? 'required' : '-';
}

function state(u: UserView): string {
  if (!u.active) return 'disabled';
  if (u.lockedUntil) return `locked until ${u.lockedUntil}`;
  if (u.source === 'local' && !u.passwordSet) return u.invitationPending ? 'invited' : 'no password';
  return 'active';
}

export function userCommands(program: Command, { client, json, confirm }: UserCliContext): void {
  const user = program.command('user').description("a tenant's end users: local users, invitations, MFA");
  user
    .command('list <tenant>')
    .description('the users: source, groups, MFA, last sign-in')
    .action(async (tenant: string) => {
      const users = await client().api.all('/api/v1/tenants/{tenant}/users', { params: { tenant } });
      if (json()) return printJson(users);
      printTable(
        ['USER', 'EMAIL', 'STATE', 'SOURCE', 'GROUPS', 'MFA', 'LAST SIGN-IN'],
        users.map((u) => [
          u.userName,
          u.email ?? '-',
          state(u),
          u.source,
          u.groups.join(',') || '-',
          mfa(u),
          u.lastSignInAt ?? 'never',
        ]),
      );
    });
  user
    .command('show <tenant> <userName>')
    .description('one user')
    .action(async (tenant: string, userName: string) => {
      const u = await client().api.get('/api/v1/tenants/{tenant}/users/{userName}', {
        params: { tenant, userName },
      });
      if (json()) return printJson(u);
      const lines: [string, string][] = [
        ['User', u.userName],
        ['Id', u.id],
        ['Name', u.displayName ?? '-'],
        ['E-mail', u.email ?? '-'],
        ['State', state(u)],
        ['Source', u.source],
        ['Groups', u.groups.join(', ') || '-'],
        ['MFA', mfa(u)],
        ['Security keys', String(u.securityKeys)],
        ['Last sign-in', u.lastSignInAt ?? 'never'],
      ];
      for (const [k, v] of lines) process.stdout.write(`${`${k}:`.padEnd(14)}${v}\n`);
    });
  user
    .command('add <tenant> <userName>')
    .description('add a local user; an invitation to set a password is mailed')
    .requiredOption('--email <address>', "the user's e-mail address (the invitation goes there)")
    .option('--name <name>', 'display name')
    .option('--require-mfa', 'TOTP is set up with the invitation and asked at every sign-in')
    .action(
      async (tenant: string, userName: string, o: { email: string; name?: string; requireMfa?: boolean }) => {
        const added = await client().api.post('/api/v1/tenants/{tenant}/users', {
          params: { tenant },
          body: {
            userName,
            email: o.email,
            ...(o.name !== undefined ? { name: o.name } : {}),
            ...(o.requireMfa ? { requireMfa: true } : {}),
          },
        });
        if (json()) return printJson(added);
        process.stdout.write(
          `user ${added.user.userName} added to ${tenant}; invitation mailed to ${added.invitation.sentTo} (good until ${added.invitation.expiresAt})\n`,
        );
      },
    );
  const linkCommand = (
    name: string,
    path: 'invite' | 'reset-password',
    description: string,
    what: string,
  ): void => {
    user
      .command(`${name} <tenant> <userName>`)
      .description(description)
      .action(async (tenant: string, userName: string) => {
        const sent = await client().api.post(`/api/v1/tenants/{tenant}/users/{userName}/${path}`, {
          params: { tenant, userName },
        });
        if (json()) return printJson(sent);
        process.stdout.write(
          `${what} for ${userName} mailed to ${sent.sentTo} (good until ${sent.expiresAt})\n`,
        );
      });
  };
  linkCommand('invite', 'invite', 'mail a new invitation (the older link stops working)', 'invitation');
  linkCommand('reset-password', 'reset-password', 'mail a password reset link', 'password reset link');
  for (const [name, done] of [
    ['disable', 'disabled: no sign-in, sessions revoked'],
    ['enable', 'enabled'],
    ['reset-mfa', 'MFA reset: TOTP, security keys and recovery codes removed'],
  ] as const) {
    user
      .command(`${name} <tenant> <userName>`)
      .description(
        name === 'reset-mfa'
          ? "turn a local user's TOTP off and remove the security keys (a lost phone or key)"
          : `${name} a user`,
      )
      .action(async (tenant: string, userName: string) => {
        const u = await client().api.post(`/api/v1/tenants/{tenant}/users/{userName}/${name}`, {
          params: { tenant, userName },
        });
        if (json()) return printJson(u);
        process.stdout.write(`user ${u.userName} ${done}\n`);
      });
  }
  user
    .command('revoke-sessions <tenant> <userName>')
    .description("end the user's sessions everywhere")
    .action(async (tenant: string, userName: string) => {
      const r = await client().api.post('/api/v1/tenants/{tenant}/users/{userName}/revoke-sessions', {
        params: { tenant, userName },
      });
      if (json()) return printJson(r);
      process.stdout.write(`${r.revoked} session(s) of ${userName} revoked\n`);
    });
  user
    .command('delete <tenant> <userName>')
    .description('delete a user (memberships and credentials go; the login log keeps its lines)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (tenant: string, userName: string, o: { yes?: boolean }) => {
      await confirm(`delete user ${userName} of ${tenant}`, userName, o.yes);
      const r = await client().api.delete('/api/v1/tenants/{tenant}/users/{userName}', {
        params: { tenant, userName },
      });
      if (json()) return printJson(r);
      process.stdout.write(`user ${r.deleted} deleted\n`);
    });

  program
    .command('login-log <tenant>')
    .description("the tenant's sign-ins and failures, MFA changes and resets, newest first")
    .option('--since <when>', 'a duration back from now (30m, 12h, 7d) or an ISO time')
    .option('--user <userName>', "only this user's lines")
    .option('--failures', 'only failures')
    .option('--limit <n>', 'at most this many lines (1-1000)', '100')
    .option('--before <id>', 'older than this event (the next page)')
    .action(
      async (
        tenant: string,
        o: { since?: string; user?: string; failures?: boolean; limit: string; before?: string },
      ) => {
        const page = await client().api.get('/api/v1/tenants/{tenant}/login-log', {
          params: { tenant },
          query: {
            limit: numberArg(o.limit),
            since: o.since,
            user: o.user,
            before: o.before,
            ...(o.failures ? { outcome: 'failure' as const } : {}),
          },
        });
        if (json()) return printJson(page);
        printTable(
          ['AT', 'USER', 'METHOD', 'OUTCOME', 'REASON', 'STAGE', 'ADDRESS', 'DETAIL'],
          page.events.map((e) => [
            e.at,
            e.userName ?? '-',
            e.method,
            e.outcome,
            e.reason ?? '-',
            e.stage ?? '-',
            e.address ?? '-',
            e.detail ?? '',
          ]),
        );
        if (page.nextBefore) process.stdout.write(`more: --before ${page.nextBefore}\n`);
      },
    );
}
