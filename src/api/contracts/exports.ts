import { z } from 'zod';
import {
  exportStatuses,
  type ExportKeySet,
  type ExportKeyView,
  type ExportView,
  type ImportResult,
} from '../../backups/logical/service.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

const keyKind = z.enum(['x25519', 'scrypt']);

export const exportSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  stage: z.string(),
  status: z.enum(exportStatuses),
  reason: z.string(),
  keyKind,
  sizeBytes: z.number().nullable(),
  /** Of the encrypted file. */
  sha256: z.string().nullable(),
  databaseBytes: z.number().nullable(),
  fileCount: z.number().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  /** A name for the downloaded file. */
  filename: z.string(),
});

const keyViewSchema = z.strictObject({
  tenant: z.string(),
  kind: keyKind.nullable(),
  /** The X25519 recipient (public); null for a passphrase or no key. */
  recipient: z.string().nullable(),
});

/** A generated identity or passphrase is shown once, in this answer only. */
const keySetSchema = keyViewSchema.extend({
  identity: z.string().optional(),
  passphrase: z.string().optional(),
});

const importSchema = z.strictObject({
  tenant: z.string(),
  stage: z.string(),
  from: z.strictObject({ tenant: z.string(), stage: z.string(), createdAt: z.string() }),
  databaseBytes: z.number(),
  files: z.number(),
  fileBytes: z.number(),
});

export type ExportContractChecks = [
  Expect<Conforms<ExportView, typeof exportSchema>>,
  Expect<Conforms<ExportKeyView, typeof keyViewSchema>>,
  Expect<Conforms<ExportKeySet, typeof keySetSchema>>,
  Expect<Conforms<ImportResult, typeof importSchema>>,
];

const exportList = z.strictObject({ exports: z.array(exportSchema) });

export const exportContracts = {
  'PUT /api/v1/tenants/:tenant/export-key': keySetSchema,
  'GET /api/v1/tenants/:tenant/export-key': keyViewSchema,
  'POST /api/v1/tenants/:tenant/stages/:stage/exports': exportSchema,
  'GET /api/v1/tenants/:tenant/stages/:stage/exports': exportList,
  'GET /api/v1/tenants/:tenant/exports': exportList,
  'GET /api/v1/exports/:id': exportSchema,
  'GET /api/v1/tenants/:tenant/exports/:id': exportSchema,
  'DELETE /api/v1/exports/:id': exportSchema,
  'POST /api/v1/tenants/:tenant/imports': importSchema,
} satisfies ContractMap;
