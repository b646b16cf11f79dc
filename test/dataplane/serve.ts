import { freePort } from '../../src/system/ports.ts';
import type { TestSteward } from '../harness/steward.ts';

/**
 * Serves a stage of a test Steward from a test server of ours (no app), as
 * the runtime does for a deployed one: a published port, then the server as
 * the stage's instance through HAProxy's stage endpoints.
 */
export async function serveStageFrom(
  t: TestSteward,
  tenant: string,
  stage: string,
  instance: number,
): Promise<void> {
  const publishedPort = await freePort(0);
  const [row] = await t.query<{ id: string }>(
    `update stages set published_port = $1 where name = $2 and tenant_id = (select id from tenants where slug = $3) returning id`,
    [publishedPort, stage, tenant],
    t.controlDatabase,
  );
  const endpoints = t.steward.stageEndpoints;
  if (!endpoints || !row) throw new Error(`no stage ${tenant}/${stage}, or no stage endpoints`);
  await endpoints.serve({ id: String(row.id), tenant, name: stage, publishedPort }, [instance]);
}
