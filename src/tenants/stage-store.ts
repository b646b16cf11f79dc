import type { Queryable } from '../store/db.ts';

/**
 * Every write to the `stages` table: the tenant service (create, remove), the
 * stage reconciler and renamer (phase, names), the runtime (runtime phase,
 * published port, files usage, settings), the gateway service (access) and
 * restores (pause). Each caller names what it changes; none writes the table
 * itself. Reads stay with their readers.
 */

/** A new stage of a tenant; the reconciler makes its database, role and files. */
export async function insertStage(
  db: Queryable,
  values: {
    readonly tenantId: string;
    readonly name: string;
    readonly databaseName: string;
    readonly passwordSecret: string;
    readonly filesDir: string;
  },
): Promise<string> {
  const row = await db
    .insertInto('stages')
    .values({
      tenant_id: values.tenantId,
      name: values.name,
      database_name: values.databaseName,
      password_secret: values.passwordSecret,
      files_dir: values.filesDir,
      ready_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The stages (one, or every stage of a tenant) are to go: a new generation with desired `absent`. */
export async function markStagesAbsent(
  db: Queryable,
  which: { readonly stageId: string } | { readonly tenantId: string },
  reason: string,
  now: Date,
): Promise<{ id: string; name: string }[]> {
  return db
    .updateTable('stages')
    .set((eb) => ({
      desired: 'absent',
      phase: 'deleting',
      reason,
      generation: eb('generation', '+', 1),
      updated_at: now,
    }))
    .$if('stageId' in which, (q) => q.where('id', '=', 'stageId' in which ? which.stageId : ''))
    .$if('tenantId' in which, (q) => q.where('tenant_id', '=', 'tenantId' in which ? which.tenantId : ''))
    .returning(['id', 'name'])
    .execute();
}

/** Deletes a stage whose removal is done; false when it is not (or no longer) to be removed. */
export async function deleteRemovedStage(db: Queryable, stageId: string): Promise<boolean> {
  const deleted = await db
    .deleteFrom('stages')
    .where('id', '=', stageId)
    .where('desired', '=', 'absent')
    .executeTakeFirst();
  return deleted.numDeletedRows > 0n;
}

/** The reconciler's phase and reason; `phase` undefined keeps the phase (a retried step). */
export async function setStagePhase(
  db: Queryable,
  stageId: string,
  phase: string | undefined,
  reason: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('stages')
    .set({ ...(phase ? { phase } : {}), reason: reason.slice(0, 1000), updated_at: now })
    .where('id', '=', stageId)
    .execute();
}

/** The stage converged at this generation; a newer generation (a removal meanwhile) is left alone. */
export async function markStageReady(
  db: Queryable,
  stage: { readonly id: string; readonly generation: number; readonly phase: string },
  reason: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('stages')
    .set({
      phase: 'ready',
      reason,
      observed_generation: stage.generation,
      ready_at: stage.phase === 'ready' ? undefined : now,
      updated_at: now,
    })
    .where('id', '=', stage.id)
    .where('generation', '=', stage.generation)
    .execute();
}

/** A rename's first step: the old database name and the new one, together. False when another pass chose already. */
export async function chooseStageDatabaseName(
  db: Queryable,
  stageId: string,
  from: string,
  to: string,
  now: Date,
): Promise<boolean> {
  const chosen = await db
    .updateTable('stages')
    .set({ previous_database_name: from, database_name: to, updated_at: now })
    .where('id', '=', stageId)
    .where('database_name', '=', from)
    .where('previous_database_name', 'is', null)
    .executeTakeFirst();
  return chosen.numUpdatedRows > 0n;
}

/** A rename's last step. False when it was recorded already. */
export async function markStageDatabaseRenamed(db: Queryable, stageId: string, now: Date): Promise<boolean> {
  const done = await db
    .updateTable('stages')
    .set({ database_renamed_at: now, updated_at: now })
    .where('id', '=', stageId)
    .where('database_renamed_at', 'is', null)
    .executeTakeFirst();
  return done.numUpdatedRows > 0n;
}

/** A paused stage is left alone by the reconciler (a restore works on it). */
export async function setStagePaused(db: Queryable, stageId: string, paused: boolean): Promise<void> {
  await db.updateTable('stages').set({ paused }).where('id', '=', stageId).execute();
}

/** The runtime's phase of a stage (running, deploying, scaled-to-zero, ...), with a human reason. */
export async function setRuntimePhase(
  db: Queryable,
  stageId: string,
  phase: string,
  reason: string,
): Promise<void> {
  await db
    .updateTable('stages')
    .set({ runtime_phase: phase, runtime_reason: reason.slice(0, 1000) })
    .where('id', '=', stageId)
    .execute();
}

/**
 * Gives the stage this published port unless it has one; returns the port
 * it has (a concurrent pass may have won).
 */
export async function claimPublishedPort(db: Queryable, stageId: string, port: number): Promise<number> {
  await db
    .updateTable('stages')
    .set({ published_port: port })
    .where('id', '=', stageId)
    .where('published_port', 'is', null)
    .execute();
  const row = await db
    .selectFrom('stages')
    .select('published_port')
    .where('id', '=', stageId)
    .executeTakeFirst();
  return row?.published_port ?? port;
}

/** The measured size of a stage's files directory. */
export async function setFilesBytes(db: Queryable, stageId: string, bytes: number): Promise<void> {
  await db.updateTable('stages').set({ files_bytes: bytes }).where('id', '=', stageId).execute();
}

/** Scale to zero (seconds idle; null: never) and the files quota (null: none); undefined keeps a setting. */
export async function setRuntimeSettings(
  db: Queryable,
  stageId: string,
  settings: {
    readonly scaleToZeroSeconds?: number | null | undefined;
    readonly filesQuotaBytes?: number | null | undefined;
  },
): Promise<void> {
  await db
    .updateTable('stages')
    .set({
      ...(settings.scaleToZeroSeconds !== undefined
        ? { scale_to_zero_seconds: settings.scaleToZeroSeconds }
        : {}),
      ...(settings.filesQuotaBytes !== undefined ? { files_quota_bytes: settings.filesQuotaBytes } : {}),
    })
    .where('id', '=', stageId)
    .execute();
}

/** Who may reach the stage through the edge, and whether it shows the maintenance page; undefined keeps a setting. */
export async function setStageAccess(
  db: Queryable,
  stageId: string,
  access: { readonly allowFrom?: string[] | null | undefined; readonly maintenance?: boolean | undefined },
): Promise<void> {
  await db
    .updateTable('stages')
    .set({
      ...(access.allowFrom !== undefined ? { allow_from: access.allowFrom } : {}),
      ...(access.maintenance !== undefined ? { maintenance: access.maintenance } : {}),
    })
    .where('id', '=', stageId)
    .execute();
}
