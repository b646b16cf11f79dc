import { z } from 'zod';
import type { LeaseView, NodeView } from '../../cluster/index.ts';
import { nodeHealths } from '../../cluster/nodes.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

const nodeSchema = z.strictObject({
  name: z.string(),
  apiUrl: z.string().nullable(),
  host: z.string(),
  pid: z.number(),
  startedAt: z.string(),
  heartbeatAgeSeconds: z.number(),
  health: z.enum(nodeHealths),
  /** The leases this node holds now. */
  leases: z.array(z.string()),
  /** Its member's role in the control database's Patroni cluster, when it has one. */
  controlDatabaseRole: z.string().optional(),
});

const leaseSchema = z.strictObject({
  name: z.string(),
  node: z.string(),
  holder: z.string(),
  epoch: z.string(),
  acquiredAt: z.string(),
  /** Seconds until it expires, by the database's clock; negative: expired. */
  expiresInSeconds: z.number(),
});

export type NodeContractChecks = [
  Expect<Conforms<NodeView, typeof nodeSchema>>,
  Expect<Conforms<LeaseView, typeof leaseSchema>>,
];

export const nodeContracts = {
  'GET /api/v1/nodes': z.strictObject({ nodes: z.array(nodeSchema), leases: z.array(leaseSchema) }),
} satisfies ContractMap;
