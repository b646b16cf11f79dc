import type { Command } from 'commander';
import { keepSession, type AccountCliContext } from './account-commands.ts';
import { printJson, printTable } from './output.ts';
import { SecretReader } from './secret-input.ts';

/**
 * `steward tenant-admin invite|list|remove|accept` and `steward break-glass
 * open|list|close`: thin over the API. The invitation code and the new
 * password are asked for (or read from stdin), never taken as arguments.
 */
/** The account commands' context: the session file and the secrets from the environment too. */
export type TenantAdminCliContext = AccountCliContext;

export function tenantAdminCommands(program: Command, ctx: TenantAdminCliContext): void {
  const admin = program
    .command('tenant-admin')
    .description(
      "tenant admins: the customer's IT, scoped to one tenant (users, sign-in, SCIM, login log, SLA, exports)",
    );
  admin
    .command('invite <tenant> <email>')
    .description(
      'invite a tenant admin: a single-use code is mailed; the admin sets a password and enrols TOTP',
    )
    .option('--expires-in-hours <hours>', 'how long the invitation works (default 72, at most 336)')
    .action(async (tenant: string, email: string, o: { expiresInHours?: string }) => {
      const view = await ctx.client().api.post('/api/v1/tenants/{tenant}/admins', {
        params: { tenant },
        body: {
          email,
          ...(o.expiresInHours !== undefined ? { expiresInHours: Number(o.expiresInHours) } : {}),
        },
      });
      if (ctx.json()) return printJson(view);
      process.stdout.write(
        `invited ${view.email} to administer ${view.tenant}; the invitation was mailed and works until ${view.invitationExpiresAt ?? '-'}\n`,
      );
    });
  admin
    .command('list <tenant>')
    .description("a tenant's admins")
    .action(async (tenant: string) => {
      const admins = await ctx.client().api.all('/api/v1/tenants/{tenant}/admins', { params: { tenant } });
      if (ctx.json()) return printJson(admins);
      printTable(
        ['EMAIL', 'STATUS', 'MFA', 'LAST LOGIN', 'INVITED BY'],
        admins.map((a) => [
          a.email,
          a.status,
          a.mfa ? 'yes' : 'no',
          a.lastLoginAt ?? '-',
          a.invitedBy ?? '-',
        ]),
      );
    });
  admin
    .command('remove <tenant> <email>')
    .description('remove a tenant admin; its sessions and tokens end at once')
    .option('--yes', 'do not ask for confirmation')
    .action(async (tenant: string, email: string, o: { yes?: boolean }) => {
      await ctx.confirm(`remove ${email} as an admin of ${tenant}`, email, o.yes);
      const view = await ctx
        .client()
        .api.delete('/api/v1/tenants/{tenant}/admins/{email}', { params: { tenant, email } });
      if (ctx.json()) return printJson(view);
      process.stdout.write(`removed ${view.email} as an admin of ${view.tenant}\n`);
    });
  admin
    .command('accept')
    .description(
      'accept an invitation (with --api-url from the mail): asks for the code and a new password; the session is kept like "steward login"',
    )
    .option('--stdin', 'read the invitation code, then the new password, from stdin, one per line')
    .action(async (o: { stdin?: boolean }) => {
      const secrets = new SecretReader(ctx.secretEnv, o.stdin ? '--stdin' : undefined);
      const token = await secrets.read({ name: 'invitation code' });
      const password = await secrets.read({
        name: 'new password',
        env: 'STEWARD_NEW_PASSWORD',
        confirm: true,
      });
      const api = ctx.client();
      const issued = await api.api.post('/api/v1/auth/tenant-admin/accept', {
        body: { token: token.trim(), password },
      });
      const file = await keepSession(ctx.sessionFile(), api, issued.token);
      if (ctx.json())
        return printJson({ username: issued.operator, tenant: issued.tenant, sessionFile: file });
      process.stdout.write(
        `welcome, ${issued.operator}: you administer ${issued.tenant}; session kept in ${file}\n` +
          'Enrol a second factor now (nothing of the tenant opens before): steward mfa enroll, then steward mfa verify <code>\n',
      );
    });

  const glass = program
    .command('break-glass')
    .description("an operator's time-limited, audited access into a tenant's stage that requires sign-in");
  glass
    .command('open <tenant> <stage>')
    .description(
      'open access with a reason; prints a one-time link to the stage that signs you in until it ends',
    )
    .requiredOption('--reason <text>', 'why (10 to 500 characters; the tenant reads it)')
    .option('--minutes <minutes>', 'how long it lasts (default 60, at most 480)')
    .action(async (tenant: string, stage: string, o: { reason: string; minutes?: string }) => {
      const opened = await ctx.client().api.post('/api/v1/tenants/{tenant}/stages/{stage}/break-glass', {
        params: { tenant, stage },
        body: { reason: o.reason, ...(o.minutes !== undefined ? { minutes: Number(o.minutes) } : {}) },
      });
      if (ctx.json()) return printJson(opened);
      process.stdout.write(
        `break-glass ${opened.grant.id} into ${tenant}/${stage} until ${opened.grant.expiresAt} (audited, in ${tenant}'s login log):\n` +
          `${opened.link}\nThe link works once; close early with "steward break-glass close ${opened.grant.id}".\n`,
      );
    });
  glass
    .command('list <tenant>')
    .description("a tenant's break-glass access, newest first")
    .action(async (tenant: string) => {
      const grants = await ctx
        .client()
        .api.all('/api/v1/tenants/{tenant}/break-glass', { params: { tenant } });
      if (ctx.json()) return printJson(grants);
      printTable(
        ['ID', 'STAGE', 'OPERATOR', 'STATE', 'OPENED', 'EXPIRES', 'REASON'],
        grants.map((g) => [g.id, g.stage, g.operator, g.state, g.openedAt, g.expiresAt, g.reason]),
      );
    });
  glass
    .command('close <id>')
    .description('end break-glass access now; its session is revoked')
    .action(async (id: string) => {
      const view = await ctx.client().api.post('/api/v1/break-glass/{id}/close', { params: { id } });
      if (ctx.json()) return printJson(view);
      process.stdout.write(`break-glass ${view.id} into ${view.tenant}/${view.stage} is ${view.state}\n`);
    });
}
