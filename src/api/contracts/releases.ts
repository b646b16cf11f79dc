import { z } from 'zod';
import { appDefinitionSchema } from '../../runtime/app-definition.ts';
import type { AddedRelease, ReleaseView } from '../../runtime/releases.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

export const releaseSchema = z.strictObject({
  app: z.string(),
  version: z.string(),
  checksum: z.string(),
  /** The release's steward.yaml, parsed (defaults filled in). */
  definition: appDefinitionSchema,
  path: z.string(),
  sizeBytes: z.number(),
  createdAt: z.string(),
});

/** 201 when added, 200 when the same content was already there (created: false). */
const addedSchema = releaseSchema.extend({ created: z.boolean() });

export type ReleaseContractChecks = [
  Expect<Conforms<ReleaseView, typeof releaseSchema>>,
  Expect<Conforms<AddedRelease, typeof addedSchema>>,
];

export const releaseContracts = {
  'POST /api/v1/releases': addedSchema,
  'GET /api/v1/releases': z.strictObject({ releases: z.array(releaseSchema) }),
  'GET /api/v1/releases/:app/:version': releaseSchema,
  'DELETE /api/v1/releases/:app/:version': releaseSchema,
} satisfies ContractMap;
