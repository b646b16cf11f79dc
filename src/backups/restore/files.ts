import { existsSync } from 'node:fs';
import { chmod, mkdir, rename } from 'node:fs/promises';
import type { Selectable } from 'kysely';
import { InternalError } from '../../core/errors.ts';
import type { RestoresTable } from '../../store/schema-backups.ts';
import { chownTree, removeTree } from '../../system/safe-fs.ts';
import type { ExportService } from '../logical/service.ts';
import { message, type RestoreContext } from './context.ts';
import { isoSeconds } from './range.ts';

type RestoreRow = Selectable<RestoresTable>;

/**
 * A restore's files: the nearest export's files are unpacked beside the
 * target stage's files dir (the staging dir), then take its place. Every
 * tier restores files the same way.
 */
export class RestoreFiles {
  readonly #c: RestoreContext;

  constructor(context: RestoreContext) {
    this.#c = context;
  }

  /** Where the export's files are unpacked before they replace the target stage's. */
  #stagingDir(filesDir: string, id: string): string {
    return `${filesDir}.restore-${id.slice(0, 8)}`;
  }

  async #filesDir(tenant: string, stage: string): Promise<{ id: string; filesDir: string }> {
    const row = await this.#c.deps.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.files_dir'])
      .where('tenants.slug', '=', tenant)
      .where('stages.name', '=', stage)
      .executeTakeFirstOrThrow();
    return { id: row.id, filesDir: row.files_dir };
  }

  /** Whether files are unpacked and not yet in the stage's place. */
  async staged(row: RestoreRow): Promise<boolean> {
    const files = await this.#filesDir(row.tenant_slug, row.target_stage).catch(() => undefined);
    return files !== undefined && existsSync(this.#stagingDir(files.filesDir, row.id));
  }

  /** Unpacks the nearest export's files into the staging dir; records which export, or why none. */
  async stage(row: RestoreRow): Promise<void> {
    const started = Date.now();
    await this.#c.setRestore(row.id, {
      phase: 'files',
      progress: "restoring the stage's files from the nearest export",
    });
    await this.#stage(row);
    await this.#c.addTimings(row.id, { filesMs: Date.now() - started });
  }

  async #stage(row: RestoreRow): Promise<void> {
    const { id: stageId, filesDir } = await this.#filesDir(row.tenant_slug, row.target_stage);
    const staging = this.#stagingDir(filesDir, row.id);
    await removeTree(staging);
    const exports: ExportService = this.#c.deps.exports;
    const found = await exports.nearest(row.tenant_slug, row.source_stage, row.target_time);
    if (!found) {
      await this.#c.setRestore(row.id, {
        files_export_id: null,
        files_note: `files not restored: ${row.tenant_slug}/${row.source_stage} has no succeeded export made at or before ${isoSeconds(row.target_time)}${row.mode === 'in-place' ? '; the stage keeps its current files' : ''}`,
      });
      return;
    }
    await mkdir(staging, { recursive: true, mode: 0o700 });
    let unpacked: Awaited<ReturnType<ExportService['unpackFiles']>>;
    try {
      unpacked = await exports.unpackFiles(found.id, staging);
    } catch (error) {
      await removeTree(staging);
      throw new InternalError(`the files of export ${found.id} could not be unpacked: ${message(error)}`, {
        cause: error,
      });
    }
    if (!unpacked.restored) {
      await removeTree(staging);
      await this.#c.setRestore(row.id, {
        files_export_id: null,
        files_note: `files not restored: ${unpacked.reason}${row.mode === 'in-place' ? '; the stage keeps its current files' : ''}`,
      });
      return;
    }
    // The files belong to the stage's own user, like everything the runtime gives it.
    const uid = this.#c.deps.runtime.stageUid(stageId);
    if (uid !== undefined) await chownTree(staging, uid, uid);
    await chmod(staging, 0o700);
    // Recorded last: a run that stops before this unpacks again.
    await this.#c.setRestore(row.id, {
      files_export_id: found.id,
      files_note: `${unpacked.files} files (${unpacked.fileBytes} bytes) restored from export ${found.id} made at ${found.createdAt}`,
    });
  }

  /** The staged files take the target stage's place; in place, its current files are kept beside. */
  async swap(row: RestoreRow): Promise<void> {
    const { filesDir } = await this.#filesDir(row.tenant_slug, row.target_stage);
    const staging = this.#stagingDir(filesDir, row.id);
    if (!existsSync(staging)) return;
    await this.#c.setRestore(row.id, { phase: 'swapping', progress: 'putting the restored files in place' });
    if (row.mode === 'into') {
      // The new stage's files dir is as empty as its database was.
      await removeTree(filesDir);
      await rename(staging, filesDir);
      return;
    }
    const kept = `${filesDir}.pre-${row.created_at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
    // Recorded first, so that discard finds it whatever point a crash stops the renames at.
    await this.#c.setRestore(row.id, { kept_files_dir: kept });
    if (existsSync(filesDir) && !existsSync(kept)) await rename(filesDir, kept);
    // Kept already (a run that stopped between the renames); what is there now was made since.
    else if (existsSync(filesDir)) await removeTree(filesDir);
    await rename(staging, filesDir);
  }

  /** After a failure before the swap: the staged files go. */
  async removeStaged(row: RestoreRow): Promise<void> {
    const files = await this.#filesDir(row.tenant_slug, row.target_stage).catch(() => undefined);
    if (files) await removeTree(this.#stagingDir(files.filesDir, row.id));
  }
}
