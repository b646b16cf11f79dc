import type { ContractMap } from './index.ts';
import { auditContracts } from './audit.ts';
import { backupContracts } from './backups.ts';
import { checkContracts } from './checks.ts';
import { drillContracts } from './drills.ts';
import { exportContracts } from './exports.ts';
import { gatewayContracts } from './gateway.ts';
import { healingContracts } from './healing.ts';
import { nodeLossContracts } from './node-loss.ts';
import { nodeContracts } from './nodes.ts';
import { releaseContracts } from './releases.ts';
import { restoreContracts } from './restores.ts';
import { runtimeContracts } from './runtime.ts';
import { tenantContracts } from './tenants.ts';

/**
 * The contracts of the operator's areas (tenants and stages, runtime and
 * releases, gateway, backups, restores, exports, drills, nodes, audit,
 * healing, checks), one file per routes file; system.ts is merged in index.ts.
 */
export const operationsContracts = {
  ...auditContracts,
  ...backupContracts,
  ...checkContracts,
  ...drillContracts,
  ...exportContracts,
  ...gatewayContracts,
  ...healingContracts,
  ...nodeLossContracts,
  ...nodeContracts,
  ...releaseContracts,
  ...restoreContracts,
  ...runtimeContracts,
  ...tenantContracts,
} satisfies ContractMap;

/** These areas' routes without a JSON contract, and why. */
export const operationsUncontracted: readonly (readonly [string, string])[] = [
  ['GET /api/v1/tenants/:tenant/stages/:stage/logs', 'NDJSON lines, streamed with follow=true'],
  ['GET /api/v1/exports/:id/download', 'a download: the encrypted export file'],
  ['GET /api/v1/tenants/:tenant/exports/:id/download', 'a download: the encrypted export file'],
  ['GET /metrics', 'Prometheus text format'],
  ['GET /metrics/haproxy', "HAProxy's Prometheus text format"],
];
