import type { Command } from 'commander';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward identity roles set|list|remove`: thin over the API, which checks every value. */
export interface IdentityRolesCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

/** `steward identity` is shared by the identity commands: whichever registers first creates it. */
export function identityCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'identity') ??
    program.command('identity').description("identity for the tenants' hosted apps: sign-in, users, roles")
  );
}

const where = (stage: string | null): string => (stage === null ? 'all stages' : `stage ${stage}`);

export function identityRolesCommands(program: Command, { client, json }: IdentityRolesCliContext): void {
  const roles = identityCommand(program)
    .command('roles')
    .description(
      'map groups (display name, without regard to case) to app roles per stage: the identity JWT carries them',
    );
  roles
    .command('set <tenant> [stage]')
    .description('map a group to an app role on a stage (without a stage: on all stages)')
    .requiredOption('--group <name>', "the group's display name, as SCIM, LDAP or the IdP name it")
    .requiredOption('--role <role>', 'the app role, e.g. finance.write')
    .action(async (tenant: string, stage: string | undefined, o: { group: string; role: string }) => {
      const set = await client().api.post('/api/v1/tenants/{tenant}/identity/roles', {
        params: { tenant },
        body: { ...(stage !== undefined ? { stage } : {}), group: o.group, role: o.role },
      });
      if (json()) return printJson(set);
      process.stdout.write(
        `${set.created ? 'mapped' : 'already mapped:'} group ${JSON.stringify(set.group)} to role ${set.role} on ${where(set.stage)} of ${tenant}\n` +
          (set.groupKnown
            ? ''
            : `note: ${tenant}'s directory has no group ${JSON.stringify(set.group)} (yet)\n`),
      );
    });
  roles
    .command('list <tenant> [stage]')
    .description("the tenant's mappings; with a stage, those that apply on it")
    .action(async (tenant: string, stage: string | undefined) => {
      const mappings = await client().api.all('/api/v1/tenants/{tenant}/identity/roles', {
        params: { tenant },
        query: { stage },
      });
      if (json()) return printJson(mappings);
      printTable(
        ['stage', 'group', 'role', 'group in directory', 'by', 'since'],
        mappings.map((m) => [
          m.stage ?? '(all)',
          m.group,
          m.role,
          m.groupKnown ? 'yes' : 'no',
          m.createdBy,
          m.createdAt,
        ]),
      );
    });
  roles
    .command('remove <tenant> [stage]')
    .description(
      "remove a group's mapping to a role (without --role: to every role) on that stage, or the all-stages ones",
    )
    .requiredOption('--group <name>', "the group's display name")
    .option('--role <role>', 'only this role')
    .action(async (tenant: string, stage: string | undefined, o: { group: string; role?: string }) => {
      const removed = await client().api.delete('/api/v1/tenants/{tenant}/identity/roles', {
        params: { tenant },
        query: { stage, group: o.group, role: o.role },
      });
      if (json()) return printJson(removed);
      process.stdout.write(
        `removed role${removed.removed.length === 1 ? '' : 's'} ${removed.removed.join(', ')} of group ${JSON.stringify(o.group)} on ${where(stage ?? null)} of ${tenant}\n`,
      );
    });
}
