import type { ContractMap } from './index.ts';
import { alertmanagerContracts } from './alertmanager.ts';
import { alertContracts } from './alerts.ts';
import { identityOidcContracts } from './identity-oidc.ts';
import { identityRoleContracts } from './identity-roles.ts';
import { identitySettingsContracts } from './identity-settings.ts';
import { identityContracts } from './identity.ts';
import { incidentContracts } from './incidents.ts';
import { ldapDirectoryContracts } from './ldap-directory.ts';
import { maintenanceContracts } from './maintenance.ts';
import { notificationContracts } from './notifications.ts';
import { oncallContracts } from './oncall.ts';
import { scimContracts } from './scim.ts';
import { slaContracts } from './sla.ts';
import { statusContracts } from './status.ts';
import { tenantAdminContracts } from './tenant-admins.ts';
import { userContracts } from './users.ts';

/**
 * The contracts of identity (sign-in, operators, tokens, tenant admins and
 * break-glass, users and the login log, OIDC, identity settings and roles,
 * SCIM, the LDAP directory) and of the operations loop (alerts and
 * Alertmanager, on-call, incidents, SLA, status, maintenance,
 * notifications), one file per routes file.
 */
export const identityAndLoopContracts = {
  ...alertmanagerContracts,
  ...alertContracts,
  ...identityOidcContracts,
  ...identityRoleContracts,
  ...identitySettingsContracts,
  ...identityContracts,
  ...incidentContracts,
  ...ldapDirectoryContracts,
  ...maintenanceContracts,
  ...notificationContracts,
  ...oncallContracts,
  ...scimContracts,
  ...slaContracts,
  ...statusContracts,
  ...tenantAdminContracts,
  ...userContracts,
} satisfies ContractMap;
