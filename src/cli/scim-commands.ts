import type { Command } from 'commander';
import { numberArg } from './args.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward scim token create|list|revoke` and `steward group list`: thin over the API. */
export interface ScimCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

export function scimCommands(program: Command, { client, json }: ScimCliContext): void {
  const scim = program.command('scim').description("SCIM 2.0 provisioning from a tenant's identity provider");
  const token = scim.command('token').description("a tenant's SCIM tokens: shown once, stored hashed");
  token
    .command('create <tenant>')
    .description("create a token for the tenant's identity provider; prints it once with the SCIM base URL")
    .option('--name <name>', 'what the token is for (default: scim); SCIM changes are audited as scim:<name>')
    .option('--expires-days <days>', 'days until it expires (default: never; at most 3650)')
    .action(async (tenant: string, o: { name?: string; expiresDays?: string }) => {
      const issued = await client().api.post('/api/v1/tenants/{tenant}/scim-tokens', {
        params: { tenant },
        body: {
          ...(o.name ? { name: o.name } : {}),
          ...(o.expiresDays ? { expiresInDays: Number(o.expiresDays) } : {}),
        },
      });
      if (json()) return printJson(issued);
      process.stdout.write(
        `SCIM token ${issued.id} "${issued.name}" for tenant ${issued.tenant} (expires ${issued.expiresAt ?? 'never'}):\n` +
          `${issued.token}\nIt is shown only now.\nSCIM base URL: ${issued.url}\n`,
      );
    });
  token
    .command('list <tenant>')
    .description("the tenant's SCIM tokens")
    .action(async (tenant: string) => {
      const tokens = await client().api.all('/api/v1/tenants/{tenant}/scim-tokens', { params: { tenant } });
      if (json()) return printJson(tokens);
      printTable(
        ['id', 'name', 'created by', 'created', 'expires', 'last used', 'revoked'],
        tokens.map((t) => [t.id, t.name, t.createdBy, t.createdAt, t.expiresAt, t.lastUsedAt, t.revokedAt]),
      );
    });
  token
    .command('revoke <tenant> <id>')
    .description('revoke a SCIM token (the identity provider holding it is refused from now on)')
    .action(async (tenant: string, id: string) => {
      const revoked = await client().api.delete('/api/v1/tenants/{tenant}/scim-tokens/{id}', {
        params: { tenant, id },
      });
      if (json()) return printJson(revoked);
      process.stdout.write(
        `SCIM token ${revoked.id} "${revoked.name}" of tenant ${revoked.tenant} revoked at ${revoked.revokedAt ?? ''}\n`,
      );
    });

  const group = program.command('group').description("a tenant's groups (SCIM, directory sync)");
  group
    .command('list <tenant>')
    .description("the tenant's groups with their member counts")
    .option('--start-index <n>', 'the first group to show, counting from 1')
    .option('--count <n>', 'how many groups to show (at most 1000)')
    .action(async (tenant: string, o: { startIndex?: string; count?: string }) => {
      const list = await client().api.get('/api/v1/tenants/{tenant}/groups', {
        params: { tenant },
        query: {
          ...(o.startIndex ? { startIndex: numberArg(o.startIndex) } : {}),
          ...(o.count ? { count: numberArg(o.count) } : {}),
        },
      });
      if (json()) return printJson(list.groups);
      printTable(
        ['id', 'name', 'members', 'source', 'external id', 'updated'],
        list.groups.map((g) => [g.id, g.displayName, g.members, g.source, g.externalId, g.updatedAt]),
      );
      if (list.total > list.groups.length) {
        process.stdout.write(
          `${list.groups.length} of ${list.total} groups; --start-index and --count page through them\n`,
        );
      }
    });
}
