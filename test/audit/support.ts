import pg from 'pg';
import type { AuditContent } from '../../src/audit/chain.ts';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import type { TestSteward } from '../harness/steward.ts';

/** An audit_events row as the superuser reads it. */
export interface AuditRow {
  seq: string;
  at: Date;
  actor: string;
  action: string;
  target: string;
  tenant: string | null;
  outcome: 'success' | 'failure' | 'denied';
  address: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  body: string | null;
  mac_key: string | null;
  mac: string | null;
}

export function auditRows(t: TestSteward): Promise<AuditRow[]> {
  return t.query<AuditRow>('select * from audit_events order by seq', [], t.controlDatabase);
}

/**
 * One session on the control database: as the app role (stolen app
 * credentials) or as a superuser; `replica` switches the triggers off
 * (session_replication_role, superuser only), as a DBA tampering would.
 */
export async function controlSession(
  t: TestSteward,
  user: 'superuser' | 'app',
  statements: (client: pg.Client) => Promise<unknown>,
  options: { readonly replica?: boolean } = {},
): Promise<void> {
  const url = user === 'app' ? t.controlUrl : replaceDatabase(t.superuserUrl, t.controlDatabase);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (options.replica) await client.query('set session_replication_role = replica');
    await statements(client);
  } finally {
    await client.end();
  }
}

/** The content of a made-up event n, at `at`. */
export function eventContent(n: number, at: Date = new Date()): AuditContent {
  return {
    at,
    actor: 'owner',
    action: 'tenant.delete',
    target: `tenant/t${n}`,
    tenant: `t${n}`,
    outcome: 'success',
    address: null,
    details: { n },
  };
}
