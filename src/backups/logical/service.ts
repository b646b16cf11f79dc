import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, realpathSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ColumnType, Generated, Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import { findPostgresBinDir } from '../../databases/local-cluster.ts';
import type { JobHandler } from '../../jobs/runner.ts';
import { enqueue } from '../../jobs/queue.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDatabase } from '../../store/schema.ts';
import type { ControlDb } from '../../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../../store/keyset.ts';
import type { StageCredentials, TenantService } from '../../tenants/service.ts';
import { chownTree } from '../../system/safe-fs.ts';
import { pinnedOptions } from '../../databases/privileged.ts';
import {
  decryptStream,
  encryptStream,
  isRecipient,
  newIdentity,
  type ExportKey,
  type ExportSecret,
} from './age.ts';
import {
  exportArchive,
  exportFormatName,
  exportFormatVersion,
  readExportArchive,
  type ReadResult,
  type ExportManifest,
  type ExportSummary,
} from './archive.ts';
import type { ExportInterval } from '../policy.ts';
import { defaultRetainDays, expiredExports } from './retention.ts';

export const exportJobKind = 'logical-export';
export const exportStatuses = ['running', 'succeeded', 'failed'] as const;
export type ExportStatus = (typeof exportStatuses)[number];

export function exportKeySecret(tenant: string): string {
  return `tenant/${tenant}/export-key`;
}

interface LogicalExportsTable {
  id: string;
  tenant_id: string;
  stage_id: string | null;
  tenant_slug: string;
  stage_name: string;
  status: Generated<string>;
  reason: Generated<string>;
  path: string;
  key_kind: string;
  size_bytes: ColumnType<string | null, never, number | null>;
  sha256: string | null;
  database_bytes: ColumnType<string | null, never, number | null>;
  file_count: number | null;
  created_by: string;
  created_at: Generated<Date>;
  finished_at: Date | null;
}
type ExportDb = Kysely<ControlDatabase & { logical_exports: LogicalExportsTable }>;

export interface ExportView {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly status: ExportStatus;
  readonly reason: string;
  readonly keyKind: ExportKey['kind'];
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly databaseBytes: number | null;
  readonly fileCount: number | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  /** A name for the downloaded file. */
  readonly filename: string;
}

export interface ExportKeyView {
  readonly tenant: string;
  readonly kind: ExportKey['kind'] | null;
  /** The X25519 recipient (public); null for a passphrase or no key. */
  readonly recipient: string | null;
}

/** Shown once, when Steward generated the key: Steward keeps no copy of an identity. */
export interface ExportKeySet extends ExportKeyView {
  readonly identity?: string;
  readonly passphrase?: string;
}

export type SetExportKeyInput =
  { readonly recipient: string } | { readonly generate: 'identity' | 'passphrase' };

export interface ImportResult {
  readonly tenant: string;
  readonly stage: string;
  readonly from: { readonly tenant: string; readonly stage: string; readonly createdAt: string };
  readonly databaseBytes: number;
  readonly files: number;
  readonly fileBytes: number;
}

export interface ExportServiceOptions {
  readonly db: ControlDb;
  readonly tenants: TenantService;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly dataDir: string;
  readonly pgBinDir?: string | undefined;
  /** How long an import waits for its new stage's database. */
  readonly stageReadyTimeoutMs?: number;
  /** The uid a stage's processes run as (undefined: Steward's own): imported files become theirs. */
  readonly stageUid?: (stageId: string) => number | undefined;
}

/**
 * Logical exports of one stage: pg_dump -Fc (as the stage's own role, so it
 * can only dump its own data) plus its files, in one tar, encrypted with the
 * tenant's age key, streamed to disk; and `import` of such a file into a new
 * stage. Data portability: downloads are audited.
 */
export class ExportService {
  readonly #o: ExportServiceOptions;
  readonly #db: ExportDb;
  #binDir: string | undefined;

  constructor(options: ExportServiceOptions) {
    this.#o = options;
    this.#db = options.db.withTables<{ logical_exports: LogicalExportsTable }>();
  }

  get #bin(): string {
    // initdb may be a link on PATH to the real bin dir, which also has pg_dump and pg_restore.
    this.#binDir ??= dirname(realpathSync(join(findPostgresBinDir(this.#o.pgBinDir), 'initdb')));
    return this.#binDir;
  }

  async setKey(tenant: string, input: SetExportKeyInput, actor: Principal): Promise<ExportKeySet> {
    await this.#o.tenants.show(tenant);
    let key: ExportKey;
    let shown: { identity?: string; passphrase?: string } = {};
    if ('recipient' in input) {
      if (!isRecipient(input.recipient)) {
        throw new InputError(
          `field "recipient": ${showValue(input.recipient)} is not an age X25519 recipient; give the "age1…" public key that "age-keygen" prints`,
          { field: 'recipient' },
        );
      }
      key = { kind: 'x25519', recipient: input.recipient };
    } else if (input.generate === 'identity') {
      const pair = await newIdentity();
      key = { kind: 'x25519', recipient: pair.recipient };
      shown = { identity: pair.identity };
    } else {
      // 26 base32 characters: 130 bits, so scrypt's work factor is not what protects it.
      const passphrase = base32(randomBytes(17)).slice(0, 26);
      key = { kind: 'scrypt', passphrase };
      shown = { passphrase };
    }
    await this.#o.db.transaction().execute(async (tx) => {
      await this.#o.secrets.put(tx, exportKeySecret(tenant), JSON.stringify(key));
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'export.key.set',
        target: `tenant/${tenant}`,
        tenant,
        details: { kind: key.kind, generated: !('recipient' in input) },
      });
    });
    return { ...keyView(tenant, key), ...shown };
  }

  async key(tenant: string): Promise<ExportKeyView> {
    await this.#o.tenants.show(tenant);
    const key = await this.#readKey(tenant);
    return key ? keyView(tenant, key) : { tenant, kind: null, recipient: null };
  }

  async #readKey(tenant: string): Promise<ExportKey | undefined> {
    try {
      return JSON.parse(await this.#o.secrets.get(exportKeySecret(tenant))) as ExportKey;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /**
   * Starts an export; it runs as a job, and its status is polled with `show`.
   * `scheduled`: the tenant's policy asked for it (at this interval), not a person.
   */
  async create(
    tenant: string,
    stage: string,
    actor: Principal,
    options: { readonly scheduled?: ExportInterval } = {},
  ): Promise<ExportView> {
    const row = await this.#stage(tenant, stage);
    if (row.phase !== 'ready') {
      throw new ConflictError(
        `stage ${stage} of tenant ${tenant} is ${row.phase} (${row.reason}); export it once it is ready`,
      );
    }
    const key = await this.#readKey(tenant);
    if (!key) {
      throw new ConflictError(
        `tenant ${tenant} has no export key; set one first: "steward export key set ${tenant} --recipient age1…" (or --generate)`,
      );
    }
    const id = randomUUID();
    const at = this.#o.clock.now();
    const path = join(
      this.#o.dataDir,
      'exports',
      tenant,
      stage,
      `${stamp(at)}-${id.slice(0, 8)}.steward-export`,
    );
    await this.#o.db.transaction().execute(async (tx) => {
      await (tx as unknown as ExportDb)
        .insertInto('logical_exports')
        .values({
          id,
          tenant_id: row.tenantId,
          stage_id: row.id,
          tenant_slug: tenant,
          stage_name: stage,
          path,
          key_kind: key.kind,
          // As backup runs say: "schedule", or who asked.
          created_by: options.scheduled ? 'schedule' : actorName(actor),
          created_at: at,
        })
        .execute();
      await enqueue(tx, exportJobKind, id);
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'export.create',
        target: `tenant/${tenant}/stage/${stage}/export/${id}`,
        tenant,
        details: {
          keyKind: key.kind,
          ...(options.scheduled ? { scheduled: true, every: options.scheduled } : {}),
        },
      });
    });
    return this.show(id);
  }

  readonly handle: JobHandler = async (job) => {
    await this.run(job.key);
    return { kind: 'done' };
  };

  /**
   * Runs one export to its end. Idempotent: a finished export is left alone; a
   * running one (Steward was killed mid-way) starts again from the beginning.
   */
  async run(id: string): Promise<void> {
    const row = await this.#db
      .selectFrom('logical_exports')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || row.status !== 'running') return;
    const log = this.#o.logger.child({ export: id, tenant: row.tenant_slug, stage: row.stage_name });
    const partial = `${row.path}.partial`;
    try {
      if (!row.stage_id) throw new Error('the stage was removed before its export ran');
      const key = await this.#readKey(row.tenant_slug);
      if (!key) throw new Error(`tenant ${row.tenant_slug} has no export key any more`);
      const connection = await this.#o.tenants.stageConnection(row.stage_id);
      const stageRow = await this.#db
        .selectFrom('stages')
        .select('files_dir')
        .where('id', '=', row.stage_id)
        .executeTakeFirstOrThrow();
      await mkdir(join(row.path, '..'), { recursive: true, mode: 0o700 });
      const manifest: ExportManifest = {
        format: exportFormatName,
        version: exportFormatVersion,
        tenant: row.tenant_slug,
        stage: row.stage_name,
        createdAt: row.created_at.toISOString(),
        dumpFormat: 'pg_dump -Fc',
      };
      const written = await this.#write(connection, key, manifest, stageRow.files_dir, partial);
      await rename(partial, row.path);
      await this.#db
        .updateTable('logical_exports')
        .set({
          status: 'succeeded',
          reason: 'done',
          size_bytes: written.size,
          sha256: written.sha256,
          database_bytes: written.summary.databaseBytes,
          file_count: written.summary.files,
          finished_at: this.#o.clock.now(),
        })
        .where('id', '=', id)
        .execute();
      log.info({ bytes: written.size }, 'export written');
    } catch (error) {
      await rm(partial, { force: true });
      const reason = error instanceof Error ? error.message : String(error);
      log.warn({ err: reason }, 'export failed');
      await this.#db
        .updateTable('logical_exports')
        .set({ status: 'failed', reason: reason.slice(0, 2000), finished_at: this.#o.clock.now() })
        .where('id', '=', id)
        .execute();
    }
  }

  async #write(
    connection: StageCredentials,
    key: ExportKey,
    manifest: ExportManifest,
    filesDir: string,
    target: string,
  ): Promise<{ size: number; sha256: string; summary: ExportSummary }> {
    const dump = this.#spawn('pg_dump', ['-Fc', '--no-password'], connection);
    const dumpExit = exited(dump);
    let summary: ExportSummary | undefined;
    const hash = createHash('sha256');
    let size = 0;
    try {
      const plaintext = Readable.from(
        exportArchive(manifest, dump.stdout, filesDir, (s) => {
          summary = s;
        }),
      );
      const ciphertext = await encryptStream(key, plaintext);
      await pipeline(
        ciphertext,
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(target, { mode: 0o600 }),
      );
    } catch (error) {
      // Only a failed write stops pg_dump: after a whole archive, pg_dump has closed its output and exits by
      // itself, possibly a moment after the pipeline ends (killing it then made a good export fail "exit 128").
      if (dump.exitCode === null) dump.kill('SIGKILL');
      throw error;
    }
    const { code, stderr } = await dumpExit;
    if (code !== 0) throw new Error(`pg_dump failed (exit ${code}): ${stderr.trim().slice(-1000)}`);
    if (!summary) throw new Error('the export archive was not finished');
    return { size, sha256: hash.digest('hex'), summary };
  }

  /** A client program connecting as the stage's own role; the password goes by environment, never argv. */
  #spawn(program: string, args: readonly string[], c: StageCredentials): ChildProcessWithoutNullStreams {
    const password = decodeURIComponent(new URL(c.databaseUrl).password);
    return spawn(
      join(this.#bin, program),
      [...args, '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', c.database],
      {
        // Pinned settings: what the tenant set for its role or database does not steer the dump or restore.
        env: {
          PATH: '/usr/bin:/bin',
          LANG: 'C.UTF-8',
          PGPASSWORD: password,
          PGCONNECT_TIMEOUT: '10',
          PGOPTIONS: pinnedOptions,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
  }

  async list(tenant: string, stage?: string): Promise<ExportView[]> {
    const rows = await (await this.#of(tenant, stage)).orderBy('created_at', 'desc').execute();
    return rows.map(view);
  }

  /** One page of a tenant's (or a stage's) exports (keyset on created_at and id). */
  async listPage(
    tenant: string,
    stage: string | undefined,
    page: PageRequest<'created'>,
  ): Promise<Page<ExportView>> {
    const rows = await keysetPage(await this.#of(tenant, stage), { sort: 'created_at', id: 'id' }, page);
    return { ...rows, items: rows.items.map(view) };
  }

  async #of(tenant: string, stage: string | undefined) {
    await this.#o.tenants.show(tenant);
    const query = this.#db.selectFrom('logical_exports').selectAll().where('tenant_slug', '=', tenant);
    return stage ? query.where('stage_name', '=', stage) : query;
  }

  /** One export; with `tenant`, only if it belongs to that tenant (else: not found). */
  async show(id: string, tenant?: string): Promise<ExportView> {
    return view(await this.#row(id, tenant));
  }

  async #row(id: string, tenant?: string): Promise<LogicalExportsRow> {
    const valid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
    const row = valid
      ? await this.#db.selectFrom('logical_exports').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row || (tenant !== undefined && row.tenant_slug !== tenant)) {
      throw new NotFoundError(
        `export ${showValue(id)} does not exist${tenant ? ` for tenant ${tenant}` : ''}; "steward export list <tenant>" shows the exports`,
        { field: 'id' },
      );
    }
    return row;
  }

  /** The encrypted file, for data portability; every download is audited. */
  async download(
    id: string,
    actor: Principal,
    tenant?: string,
  ): Promise<{ view: ExportView; stream: Readable }> {
    const row = await this.#row(id, tenant);
    if (row.status !== 'succeeded') {
      throw new ConflictError(
        `export ${id} is ${row.status}${row.reason ? ` (${row.reason})` : ''}; download it once it has succeeded`,
      );
    }
    const info = await stat(row.path).catch(() => undefined);
    if (!info) throw new NotFoundError(`the file of export ${id} is missing from ${row.path}`);
    await this.#o.audit.recordAlone({
      actor: actorName(actor),
      address: actor.address,
      action: 'export.download',
      target: `tenant/${row.tenant_slug}/stage/${row.stage_name}/export/${id}`,
      tenant: row.tenant_slug,
      details: { purpose: 'data portability', sizeBytes: info.size, sha256: row.sha256 },
    });
    return { view: view(row), stream: createReadStream(row.path) };
  }

  async remove(id: string, actor: Principal, tenant?: string): Promise<ExportView> {
    const row = await this.#row(id, tenant);
    if (row.status === 'running')
      throw new ConflictError(`export ${id} is still running; remove it once it has ended`);
    await this.#o.db.transaction().execute(async (tx) => {
      await (tx as unknown as ExportDb).deleteFrom('logical_exports').where('id', '=', id).execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'export.delete',
        target: `tenant/${row.tenant_slug}/stage/${row.stage_name}/export/${id}`,
        tenant: row.tenant_slug,
      });
    });
    await rm(row.path, { force: true });
    return view(row);
  }

  /**
   * The newest succeeded export of a stage made at or before `at`: where a
   * point-in-time restore takes the stage's files from.
   */
  async nearest(tenant: string, stage: string, at: Date): Promise<ExportView | undefined> {
    const row = await this.#db
      .selectFrom('logical_exports')
      .selectAll()
      .where('tenant_slug', '=', tenant)
      .where('stage_name', '=', stage)
      .where('status', '=', 'succeeded')
      .where('created_at', '<=', at)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? view(row) : undefined;
  }

  /**
   * Writes the files of an export into `filesRoot` (which must be empty),
   * decrypted with the tenant's stored key. Steward can only do that for a
   * passphrase key: of an X25519 key it keeps the public half alone. Then, or
   * when the key has changed since, the files are not restored and the
   * answer says why.
   */
  async unpackFiles(
    id: string,
    filesRoot: string,
  ): Promise<
    | { readonly restored: true; readonly files: number; readonly fileBytes: number }
    | { readonly restored: false; readonly reason: string }
  > {
    const row = await this.#row(id);
    const key = await this.#readKey(row.tenant_slug);
    const made = `export ${id} of ${row.created_at.toISOString()}`;
    if (row.key_kind !== 'scrypt') {
      return {
        restored: false,
        reason: `${made} is encrypted to the tenant's age recipient, and Steward keeps only its public half: restore the files with "steward import" and the identity, or use a passphrase export key`,
      };
    }
    if (key?.kind !== 'scrypt') {
      return {
        restored: false,
        reason: `${made} was encrypted with a passphrase the tenant's export key no longer holds`,
      };
    }
    if (!(await stat(row.path).catch(() => undefined))) {
      return { restored: false, reason: `the file of ${made} is missing from ${row.path}` };
    }
    let plaintext: Readable;
    try {
      plaintext = await decryptStream({ passphrase: key.passphrase }, createReadStream(row.path));
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      return {
        restored: false,
        reason: `${made} does not open with the tenant's current export passphrase (it was changed since)`,
      };
    }
    let result: ReadResult;
    try {
      result = await readExportArchive(plaintext, { filesRoot, dump: () => Promise.resolve() });
    } catch (error) {
      // An export the reader refuses (links that leave the files dir, a damaged file) restores no files; the restore says why.
      if (!(error instanceof InputError)) throw error;
      return {
        restored: false,
        reason: `${made} is refused: ${error.message.replace(/^the export is refused: /, '')}`,
      };
    }
    return { restored: true, files: result.summary.files, fileBytes: result.summary.fileBytes };
  }

  /**
   * When each of these stages last had an export that is running or
   * succeeded (a failed one does not count): what the schedule goes by.
   */
  async lastExported(stageIds: readonly string[]): Promise<Map<string, Date>> {
    if (stageIds.length === 0) return new Map();
    const rows = await this.#db
      .selectFrom('logical_exports')
      .select(['stage_id', (eb) => eb.fn.max('created_at').as('at')])
      .where('stage_id', 'in', [...stageIds])
      .where('status', 'in', ['running', 'succeeded'])
      .groupBy('stage_id')
      .execute();
    return new Map(rows.flatMap((r) => (r.stage_id === null ? [] : [[r.stage_id, new Date(r.at)]])));
  }

  /**
   * Removes the exports retention no longer keeps (see retention.ts), of
   * every tenant or of `tenant` alone; returns their ids. With `actor`, the
   * removal is an audit event of the tenant's.
   */
  async prune(
    retainDays = defaultRetainDays,
    options: { readonly tenant?: string; readonly actor?: Principal } = {},
  ): Promise<string[]> {
    let query = this.#db.selectFrom('logical_exports').selectAll();
    if (options.tenant !== undefined) query = query.where('tenant_slug', '=', options.tenant);
    const rows = await query.execute();
    const expired = expiredExports(
      rows.map((r) => ({
        id: r.id,
        stage: `${r.tenant_slug}/${r.stage_name}`,
        status: r.status as ExportStatus,
        createdAt: r.created_at,
      })),
      this.#o.clock.now(),
      retainDays,
    );
    if (expired.length === 0) return expired;
    const gone = rows.filter((r) => expired.includes(r.id));
    await this.#o.db.transaction().execute(async (tx) => {
      await (tx as unknown as ExportDb).deleteFrom('logical_exports').where('id', 'in', expired).execute();
      const actor = options.actor;
      if (!actor) return;
      for (const tenant of new Set(gone.map((r) => r.tenant_slug))) {
        const mine = gone.filter((r) => r.tenant_slug === tenant);
        await this.#o.audit.record(tx, {
          actor: actorName(actor),
          address: actor.address,
          action: 'export.expire',
          target: `tenant/${tenant}`,
          tenant,
          details: {
            retainDays,
            exports: mine.map((r) => ({ id: r.id, stage: r.stage_name, createdAt: r.created_at })),
          },
        });
      }
    });
    for (const row of gone) await rm(row.path, { force: true });
    return expired;
  }

  /**
   * Imports an export into a new stage of `tenant`. The upload is kept
   * encrypted on disk and checked end to end with the key first, so a wrong
   * key or a damaged file creates nothing; then the stage is created, and the
   * dump restored as the new stage's own role, and the files written.
   */
  async import(
    tenant: string,
    stage: string,
    upload: Readable,
    secret: ExportSecret,
    actor: Principal,
  ): Promise<ImportResult> {
    const view = await this.#o.tenants.show(tenant);
    if (view.stages.some((s) => s.name === stage)) {
      throw new ConflictError(`tenant ${tenant} already has a stage ${stage}; import into a new stage`, {
        field: 'stage',
      });
    }
    const spool = join(this.#o.dataDir, 'imports', `${randomUUID()}.steward-export`);
    await mkdir(join(spool, '..'), { recursive: true, mode: 0o700 });
    try {
      await pipeline(upload, createWriteStream(spool, { mode: 0o600 }));
      const checked = await readExportArchive(await decryptStream(secret, createReadStream(spool)), {
        dump: () => Promise.resolve(),
        filesRoot: undefined,
      });
      await this.#o.tenants.addStage(tenant, { name: stage }, actor);
      try {
        const row = await this.#waitReady(tenant, stage);
        const connection = await this.#o.tenants.stageConnection(row.id);
        const restore = this.#spawn(
          'pg_restore',
          [
            '--no-owner',
            '--no-privileges',
            '--role',
            connection.user,
            '--exit-on-error',
            '--single-transaction',
          ],
          connection,
        );
        const restoreExit = exited(restore);
        restore.stdin.on('error', () => undefined);
        await readExportArchive(await decryptStream(secret, createReadStream(spool)), {
          filesRoot: row.filesDir,
          dump: async (chunk) => {
            if (restore.exitCode !== null) return;
            if (!restore.stdin.write(chunk)) {
              await new Promise<void>((resolve) => {
                restore.stdin.once('drain', resolve);
                restore.once('close', resolve);
              });
            }
          },
        });
        restore.stdin.end();
        const uid = this.#o.stageUid?.(row.id);
        if (uid !== undefined) await chownTree(row.filesDir, uid, uid);
        const { code, stderr } = await restoreExit;
        if (code !== 0) throw new Error(`pg_restore failed (exit ${code}): ${stderr.trim().slice(-1000)}`);
      } catch (error) {
        // Nothing half-made stays: the new stage goes again.
        await this.#o.tenants.removeStage(tenant, stage, actor).catch(() => undefined);
        throw error;
      }
      await this.#o.audit.recordAlone({
        actor: actorName(actor),
        address: actor.address,
        action: 'export.import',
        target: `tenant/${tenant}/stage/${stage}`,
        tenant,
        details: {
          from: `${checked.manifest.tenant}/${checked.manifest.stage}`,
          createdAt: checked.manifest.createdAt,
        },
      });
      return {
        tenant,
        stage,
        from: {
          tenant: checked.manifest.tenant,
          stage: checked.manifest.stage,
          createdAt: checked.manifest.createdAt,
        },
        databaseBytes: checked.summary.databaseBytes,
        files: checked.summary.files,
        fileBytes: checked.summary.fileBytes,
      };
    } finally {
      await rm(spool, { force: true });
    }
  }

  async #waitReady(tenant: string, stage: string): Promise<{ id: string; filesDir: string }> {
    const deadline = Date.now() + (this.#o.stageReadyTimeoutMs ?? 120_000);
    for (;;) {
      const row = await this.#stage(tenant, stage);
      if (row.phase === 'ready') return { id: row.id, filesDir: row.filesDir };
      if (row.phase === 'failed')
        throw new ConflictError(`stage ${stage} of tenant ${tenant} failed: ${row.reason}`);
      if (Date.now() > deadline)
        throw new ConflictError(
          `stage ${stage} of tenant ${tenant} was not ready in time (${row.phase}: ${row.reason})`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async #stage(
    tenant: string,
    stage: string,
  ): Promise<{ id: string; tenantId: string; phase: string; reason: string; filesDir: string }> {
    const row = await this.#db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([
        'stages.id',
        'stages.tenant_id',
        'stages.phase',
        'stages.reason',
        'stages.files_dir',
        'stages.desired',
      ])
      .where('tenants.slug', '=', tenant)
      .where('stages.name', '=', stage)
      .executeTakeFirst();
    if (!row || row.desired === 'absent') {
      const known = await this.#o.tenants.show(tenant);
      throw new NotFoundError(
        `tenant ${tenant} has no stage ${showValue(stage)}; its stages are: ${known.stages.map((s) => s.name).join(', ') || '(none)'}`,
        { field: 'stage' },
      );
    }
    return {
      id: row.id,
      tenantId: row.tenant_id,
      phase: row.phase,
      reason: row.reason,
      filesDir: row.files_dir,
    };
  }
}

type LogicalExportsRow = {
  id: string;
  tenant_slug: string;
  stage_name: string;
  status: string;
  reason: string;
  path: string;
  key_kind: string;
  size_bytes: string | null;
  sha256: string | null;
  database_bytes: string | null;
  file_count: number | null;
  created_by: string;
  created_at: Date;
  finished_at: Date | null;
};

function view(row: LogicalExportsRow): ExportView {
  return {
    id: row.id,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    status: row.status as ExportStatus,
    reason: row.reason,
    keyKind: row.key_kind as ExportKey['kind'],
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    sha256: row.sha256,
    databaseBytes: row.database_bytes === null ? null : Number(row.database_bytes),
    fileCount: row.file_count,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    filename: `${row.tenant_slug}-${row.stage_name}-${stamp(row.created_at)}.steward-export`,
  };
}

function keyView(tenant: string, key: ExportKey): ExportKeyView {
  return { tenant, kind: key.kind, recipient: key.kind === 'x25519' ? key.recipient : null };
}

function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function base32(bytes: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

function exited(child: ChildProcessWithoutNullStreams): Promise<{ code: number; stderr: string }> {
  const err: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  return new Promise((resolve) => {
    child.on('error', (error) => resolve({ code: 127, stderr: error.message }));
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}
