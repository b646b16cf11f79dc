import { z } from 'zod';
import type { AlertmanagerResult } from '../../alerts/alertmanager.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** Alertmanager's webhook: what each of its alerts became (alerts/alertmanager.ts). */
export const alertmanagerResultSchema = z.strictObject({
  raised: z.number(),
  cleared: z.number(),
  alerts: z.array(
    z.strictObject({
      fingerprint: z.string(),
      /** The Steward alert raised or cleared; null when a resolved one had none open. */
      id: z.string().nullable(),
      /** The alert's status, or `not open` for a resolved one Steward had no open alert for. */
      status: z.string(),
    }),
  ),
});

export type AlertmanagerContractChecks = [
  Expect<Conforms<AlertmanagerResult, typeof alertmanagerResultSchema>>,
];

export const alertmanagerContracts = {
  'POST /api/alerts/alertmanager': alertmanagerResultSchema,
} satisfies ContractMap;
