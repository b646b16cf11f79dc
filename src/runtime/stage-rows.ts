import type { Queryable } from '../store/db.ts';
import type { TenantService } from '../tenants/service.ts';
import type { ActiveRelease } from './deployments.ts';
import type { RuntimeStage, StageEnvironment } from './driver.ts';

/** A stage as the runtime reads it. */
export interface StageRow {
  readonly id: string;
  readonly name: string;
  readonly tenant: string;
  readonly desired: string;
  readonly files_dir: string;
  readonly published_port: number | null;
  readonly scale_to_zero_seconds: number | null;
  readonly files_quota_bytes: string | null;
  readonly runtime_phase: string;
}

const stageColumns = [
  'stages.id',
  'stages.name',
  'tenants.slug as tenant',
  'stages.desired',
  'stages.files_dir',
  'stages.published_port',
  'stages.scale_to_zero_seconds',
  'stages.files_quota_bytes',
  'stages.runtime_phase',
] as const;

function stages(db: Queryable) {
  return db.selectFrom('stages').innerJoin('tenants', 'tenants.id', 'stages.tenant_id').select(stageColumns);
}

export function readStages(db: Queryable): Promise<StageRow[]> {
  return stages(db).execute();
}

export function readStage(db: Queryable, id: string): Promise<StageRow | undefined> {
  return stages(db).where('stages.id', '=', id).executeTakeFirst();
}

export function runtimeStage(row: StageRow): RuntimeStage {
  return { id: row.id, tenant: row.tenant, name: row.name, filesDir: row.files_dir };
}

/** What every instance (and migrate, verify) of a stage's release gets as its environment. */
export async function stageEnvironment(
  tenants: TenantService,
  nodeBinDir: string,
  stage: StageRow,
  release: ActiveRelease,
): Promise<StageEnvironment> {
  const [connection, identityKeys] = await Promise.all([
    tenants.stageConnection(stage.id),
    tenants.identityKeys(),
  ]);
  const definition = release.definition;
  return {
    databasePort: connection.port,
    env: {
      PATH: `${nodeBinDir}:/usr/local/bin:/usr/bin:/bin`,
      HOME: stage.files_dir,
      LANG: 'C.UTF-8',
      NODE_ENV: stage.name === 'prod' ? 'production' : 'development',
      ...(definition.env?.common ?? {}),
      ...(definition.env?.stages?.[stage.name] ?? {}),
      DATABASE_URL: connection.databaseUrl,
      STEWARD_TENANT: stage.tenant,
      STEWARD_STAGE: stage.name,
      STEWARD_FILES_DIR: stage.files_dir,
      STEWARD_RELEASE: release.version,
      STEWARD_APP: release.app,
      // The current and next session keys (issue 13): the app verifies X-Steward-Identity without a request.
      ...(identityKeys ? { STEWARD_IDENTITY_JWKS: identityKeys } : {}),
    },
  };
}
