import { z } from 'zod';
import { ldapPresets } from '../../identity/ldap/settings.ts';
import { runStatuses, syncTriggers } from '../../identity/ldap/store.ts';
import type { DirectoryView, SyncRequested } from '../../identity/ldap/service.ts';
import type { SyncRunView } from '../../identity/ldap/store.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** A tenant's LDAP / Active Directory sync (identity/ldap/service.ts): settings without the bind password, runs. */
const attributeMapSchema = z.strictObject({
  userName: z.string(),
  externalId: z.string(),
  email: z.string(),
  displayName: z.string(),
  givenName: z.string(),
  familyName: z.string(),
  groupName: z.string(),
  groupExternalId: z.string(),
  accountControl: z.string().nullable(),
});

export const directorySettingsViewSchema = z.strictObject({
  url: z.string(),
  caPem: z.string().nullable(),
  bindDn: z.string(),
  baseDn: z.string(),
  preset: z.enum(ldapPresets),
  userFilter: z.string(),
  attributes: attributeMapSchema,
  groupBaseDn: z.string().nullable(),
  groupFilter: z.string(),
  memberAttribute: z.string(),
  everySeconds: z.number().nullable(),
  /** How often it syncs, as given (6h); null: only on request. */
  every: z.string().nullable(),
  /** The bind password is kept encrypted and never shown. */
  hasBindPassword: z.literal(true),
  updatedBy: z.string(),
  updatedAt: z.string(),
  nextSyncAt: z.string().nullable(),
});

/** What a run changed (identity/ldap/plan.ts countNames), and the entries it skipped or found a problem in. */
const countsSchema = z.strictObject({
  created: z.number().optional(),
  updated: z.number().optional(),
  deactivated: z.number().optional(),
  reactivated: z.number().optional(),
  groupsCreated: z.number().optional(),
  groupsUpdated: z.number().optional(),
  groupsDeleted: z.number().optional(),
  membershipsAdded: z.number().optional(),
  membershipsRemoved: z.number().optional(),
  skipped: z.number().optional(),
  problems: z.number().optional(),
});

export const syncRunViewSchema = z.strictObject({
  id: z.string(),
  trigger: z.enum(syncTriggers),
  requestedBy: z.string(),
  status: z.enum(runStatuses),
  progress: z.string().nullable(),
  entries: z.number(),
  groups: z.number(),
  counts: countsSchema,
  problems: z.array(z.strictObject({ dn: z.string(), reason: z.string() })),
  reason: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});

export const directoryViewSchema = z.strictObject({
  tenant: z.string(),
  directory: directorySettingsViewSchema.nullable(),
  /** Newest first. */
  runs: z.array(syncRunViewSchema),
});

export type LdapDirectoryContractChecks = [
  Expect<Conforms<DirectoryView, typeof directoryViewSchema>>,
  Expect<Conforms<SyncRunView, typeof syncRunViewSchema>>,
  Expect<Conforms<SyncRequested, typeof syncRequestedSchema>>,
];

export const syncRequestedSchema = z.strictObject({ tenant: z.string(), requestedAt: z.string() });

export const ldapDirectoryContracts = {
  'PUT /api/v1/tenants/:tenant/directory': directoryViewSchema,
  'GET /api/v1/tenants/:tenant/directory': directoryViewSchema,
  'DELETE /api/v1/tenants/:tenant/directory': z.strictObject({ tenant: z.string(), removed: z.boolean() }),
  'POST /api/v1/tenants/:tenant/directory/sync': syncRequestedSchema,
  'GET /api/v1/tenants/:tenant/directory/runs/:run': syncRunViewSchema,
} satisfies ContractMap;
