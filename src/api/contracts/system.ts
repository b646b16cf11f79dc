import { z } from 'zod';
import type { ContractMap } from './index.ts';

export const systemContracts = {
  'GET /api/v1/health': z.object({ status: z.literal('ok'), version: z.string() }),
} satisfies ContractMap;
