import { readEnvironment } from '../core/env.ts';
import { printJson } from './output.ts';
import { stewardProgram } from './program.ts';
import { confirm } from './prompt.ts';
import { upCommand } from './up-command.ts';
import { tenantCommands } from './tenant-commands.ts';
import { auditCommands } from './audit-commands.ts';
import { secretsCommands } from './secrets-commands.ts';
import { releaseCommands } from './release-commands.ts';
import { runtimeCommands } from './runtime-commands.ts';
import { gatewayCommands } from './gateway-commands.ts';
import { exportCommands } from './export-commands.ts';
import { backupCommands } from './backup-commands.ts';
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
import { tenantAdminCommands } from './tenant-admin-commands.ts';
import { accountCommands } from './account-commands.ts';
import { configJsonSchema } from '../core/config.ts';
import { appDefinitionJsonSchema } from '../runtime/app-definition.ts';

/**
 * The steward CLI: thin commands over the API. Tables by default, `-o json`
 * on request, a non-zero exit on any error. Commands are registered below in
 * the order `steward --help` lists them, one line each.
 */
const env = readEnvironment();
const { program, globals, json, client, secretEnv, fail } = stewardProgram(env);
const sessionFile = (): string => globals().sessionFile;

upCommand(program, { json, dataDir: () => globals().dataDir, env });
const { tenant, stage } = tenantCommands(program, { client, json, confirm });
auditCommands(program, { client, json });
accountCommands(program, { client, json, sessionFile, confirm, secretEnv });
tenantAdminCommands(program, { client, json, sessionFile, confirm, secretEnv });
secretsCommands(program, { client, json, confirm });
releaseCommands(program, { client, json, confirm });
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

program.parseAsync(process.argv).catch(fail);
