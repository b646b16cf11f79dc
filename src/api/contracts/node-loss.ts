import type { ContractMap } from './index.ts';
import { drillSchema } from './drills.ts';

export const nodeLossContracts = {
  'POST /api/v1/drills/node-loss': drillSchema,
} satisfies ContractMap;
