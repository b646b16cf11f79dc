import { randomBytes } from 'node:crypto';
import { lchown, lstat, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { ControlDb } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import { deleteDeploymentsOf } from './deployments.ts';
import { appDefinitionFile, parseAppDefinition, type AppDefinition } from './app-definition.ts';
import { chownTree } from '../system/safe-fs.ts';
import { checkSymlinks, contentChecksum, runBuild, sealTree } from './release-files.ts';
import type { StageSandbox } from './sandbox/index.ts';
import { defaultExtractLimits, extractTarGz, type ExtractLimits } from './tar.ts';

export const releaseVersionPattern = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;
const releaseVersionRule =
  '1-64 characters: letters, digits, ".", "+" and "-", starting with a letter or digit (for example "1.0.0" or "2.1.0-rc.1")';

/** Deployments in these states hold their release: it cannot be removed under them. */
export const liveDeploymentStatuses = ['pending', 'migrating', 'starting', 'active'] as const;

/** What the release list can be sorted by; app (then the order they were added) is its order. */
export const releaseSorts = ['app', 'created'] as const;
export type ReleaseSort = (typeof releaseSorts)[number];
const releaseSortColumns: Record<ReleaseSort, string> = { app: 'app', created: 'created_at' };

export interface ReleaseView {
  readonly app: string;
  readonly version: string;
  readonly checksum: string;
  readonly definition: AppDefinition;
  readonly path: string;
  readonly sizeBytes: number;
  readonly createdAt: string;
}

export interface AddedRelease extends ReleaseView {
  /** False when the same version with the same content was already there. */
  readonly created: boolean;
}

export type ReleaseSource = Buffer | AsyncIterable<Uint8Array>;

export interface ReleaseServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  /** `<data-dir>/releases`: `<app>/<version>` below it, and `.tmp` for releases being made. */
  readonly releasesDir: string;
  readonly logger?: Logger;
  readonly buildTimeoutMs?: number;
  readonly limits?: ExtractLimits;
  /** Builds run in the stage sandbox as its build uid; without it, as Steward. */
  readonly sandbox?: StageSandbox | undefined;
  /**
   * The builds' package cache (npm's), theirs to write: Steward's own cache
   * and home are out of their reach. Default `<releasesDir>/../build-cache`.
   */
  readonly buildCacheDir?: string;
}

export function assertReleaseVersion(version: string, field = 'version'): string {
  if (!releaseVersionPattern.test(version)) {
    throw new InputError(
      `field "${field}": ${showValue(version)} is not a release version; use ${releaseVersionRule}`,
      {
        field,
      },
    );
  }
  return version;
}

/**
 * Releases: immutable, versioned copies of the app in the data dir, each
 * with the checksum of its content and the definition it carries. A release
 * is made in a temporary directory and renamed into place, then recorded
 * with its audit event; a crash at any point leaves no half-made release.
 */
export class ReleaseService {
  readonly #o: ReleaseServiceOptions;
  /** Temporary directories this process is working in, which the sweep must leave alone. */
  readonly #inFlight = new Set<string>();

  constructor(options: ReleaseServiceOptions) {
    this.#o = options;
  }

  get #tmpDir(): string {
    return join(this.#o.releasesDir, '.tmp');
  }

  async add(source: ReleaseSource, version: string, actor: Principal): Promise<AddedRelease> {
    assertReleaseVersion(version);
    await this.sweep();
    await mkdir(this.#tmpDir, { recursive: true, mode: 0o711 });
    const work = join(this.#tmpDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
    this.#inFlight.add(work);
    try {
      await mkdir(work, { mode: 0o700 });
      await extractTarGz(source, work, this.#o.limits ?? defaultExtractLimits);
      await checkSymlinks(work);
      const definition = await readDefinition(work);
      const checksum = await contentChecksum(work);
      const known = await this.#find(definition.name, version);
      if (known) return { ...this.#same(known, checksum), created: false };
      if (definition.build) await this.#build(work, definition.build.command);
      const sizeBytes = await sealTree(work);
      return await this.#commit(work, definition, version, checksum, sizeBytes, actor);
    } finally {
      await rm(work, { recursive: true, force: true });
      this.#inFlight.delete(work);
    }
  }

  /**
   * The build runs in the stage sandbox as the build uid: the release tree
   * is the only place it can write, Steward's data dir does not exist for it.
   * Afterwards the tree is root's again and its links are checked once more:
   * the build may have made new ones.
   */
  async #build(work: string, command: string): Promise<void> {
    const sandbox = this.#o.sandbox;
    const uid = sandbox?.buildUid;
    const cacheDir = this.#o.buildCacheDir ?? join(dirname(this.#o.releasesDir), 'build-cache');
    if (uid !== undefined) {
      await mkdir(cacheDir, { recursive: true, mode: 0o700 });
      await lchown(cacheDir, uid, uid);
    }
    const invocation =
      sandbox && uid !== undefined
        ? sandbox.wrap({
            uid,
            readOnly: [],
            writable: [work, cacheDir],
            cwd: work,
            network: sandbox.buildNetwork,
            dieWithParent: true,
          })
        : undefined;
    if (uid !== undefined) await chownTree(work, uid, uid);
    try {
      await runBuild(command, {
        cwd: work,
        timeoutMs: this.#o.buildTimeoutMs ?? 10 * 60_000,
        ...(uid !== undefined
          ? { sandbox: { argv: invocation?.argv ?? [], fd3: invocation?.fd3, uid, cacheDir } }
          : {}),
      });
    } finally {
      if (uid !== undefined) await chownTree(work, 0, 0);
    }
    await checkSymlinks(work);
  }

  /** One page of releases, of one app or all (keyset on the sort's column and the id: by app, the order they were added). */
  async listPage(
    filter: { readonly app?: string | undefined },
    page: PageRequest<ReleaseSort>,
  ): Promise<Page<ReleaseView>> {
    let query = this.#o.db.selectFrom('releases').selectAll();
    if (filter.app !== undefined) query = query.where('app', '=', filter.app);
    const rows = await keysetPage(query, { sort: releaseSortColumns[page.sort], id: 'id' }, page);
    return { ...rows, items: rows.items.map(view) };
  }

  async show(app: string, version: string): Promise<ReleaseView> {
    const row = await this.#find(app, version);
    if (!row) throw notFound(app, version);
    return view(row);
  }

  async remove(app: string, version: string, actor: Principal): Promise<ReleaseView> {
    const removed = await this.#o.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('releases')
        .selectAll()
        .where('app', '=', app)
        .where('version', '=', version)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw notFound(app, version);
      const live = await tx
        .selectFrom('deployments')
        .innerJoin('stages', 'stages.id', 'deployments.stage_id')
        .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
        .select(['tenants.slug', 'stages.name', 'deployments.status'])
        .where('deployments.release_id', '=', row.id)
        .where('deployments.status', 'in', liveDeploymentStatuses)
        .orderBy('tenants.slug')
        .orderBy('stages.name')
        .execute();
      if (live.length > 0) {
        throw new ConflictError(
          `release ${app} ${version} is in use and cannot be removed: ${live
            .map((d) => `${d.slug}/${d.name} (${d.status})`)
            .join(', ')}; deploy another release there first`,
          { field: 'version' },
        );
      }
      // Finished deployments only reference the release; the audit log keeps their history.
      const history = await deleteDeploymentsOf(tx, row.id);
      await tx.deleteFrom('releases').where('id', '=', row.id).execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'release.remove',
        target: `release/${app}/${version}`,
        details: { checksum: row.checksum, finishedDeployments: history },
      });
      return row;
    });
    // After the commit: a crash here leaves files without a row, which the next add of this version replaces.
    await this.#discard(removed.path);
    return view(removed);
  }

  /**
   * Removes temporary directories that no add is working in: those of this
   * process not in flight, and those of processes that no longer run.
   */
  async sweep(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.#tmpDir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      const path = join(this.#tmpDir, name);
      if (this.#inFlight.has(path)) continue;
      const pid = Number(/^(\d+)-/.exec(name)?.[1] ?? NaN);
      if (pid !== process.pid && Number.isInteger(pid) && processRuns(pid)) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(name);
    }
    if (removed.length > 0)
      this.#o.logger?.info({ removed }, 'removed leftover temporary release directories');
    return removed;
  }

  async #commit(
    work: string,
    definition: AppDefinition,
    version: string,
    checksum: string,
    sizeBytes: number,
    actor: Principal,
  ): Promise<AddedRelease> {
    const app = definition.name;
    const appDir = join(this.#o.releasesDir, app);
    const final = join(appDir, version);
    let placed = false;
    try {
      return await this.#o.db.transaction().execute(async (tx) => {
        // One add of app/version at a time, across processes: the check, the rename and the row go together.
        await sql`select pg_advisory_xact_lock(hashtextextended(${`release:${app}/${version}`}, 0))`.execute(
          tx,
        );
        const known = await tx
          .selectFrom('releases')
          .selectAll()
          .where('app', '=', app)
          .where('version', '=', version)
          .executeTakeFirst();
        if (known) return { ...this.#same(known, checksum), created: false };
        // Files without a row are what a crash between rename and commit leaves: replace them.
        if (await exists(final)) await this.#discard(final);
        await mkdir(appDir, { recursive: true, mode: 0o711 });
        await rename(work, final);
        placed = true;
        const row = await tx
          .insertInto('releases')
          .values({
            app,
            version,
            checksum,
            definition: JSON.stringify(definition),
            path: final,
            size_bytes: sizeBytes,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await this.#o.audit.record(tx, {
          actor: actorName(actor),
          address: actor.address,
          action: 'release.add',
          target: `release/${app}/${version}`,
          details: {
            checksum,
            sizeBytes,
            processes: Object.keys(definition.processes),
            built: definition.build !== undefined,
          },
        });
        return { ...view(row), created: true };
      });
    } catch (error) {
      if (placed) await rm(final, { recursive: true, force: true });
      throw error;
    }
  }

  #same(
    known: { app: string; version: string; checksum: string } & Parameters<typeof view>[0],
    checksum: string,
  ): ReleaseView {
    if (known.checksum !== checksum) {
      throw new ConflictError(
        `release ${known.app} ${known.version} already exists with other content: it has checksum ${known.checksum}, this upload has ${checksum}; releases are immutable, so give this one a new version`,
        { field: 'version' },
      );
    }
    return view(known);
  }

  async #find(app: string, version: string) {
    return this.#o.db
      .selectFrom('releases')
      .selectAll()
      .where('app', '=', app)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  /** Moves a directory out of sight first, so that no half-deleted release is ever at its path. */
  async #discard(path: string): Promise<void> {
    await mkdir(this.#tmpDir, { recursive: true, mode: 0o711 });
    const trash = join(this.#tmpDir, `${process.pid}-removed-${randomBytes(6).toString('hex')}`);
    this.#inFlight.add(trash);
    try {
      await rename(path, trash);
      await rm(trash, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    } finally {
      this.#inFlight.delete(trash);
    }
  }
}

async function readDefinition(root: string): Promise<AppDefinition> {
  const path = join(root, appDefinitionFile);
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) {
    throw new InputError(
      `the release has no ${appDefinitionFile} at its top level (a regular file, not a link); "steward app schema" prints what it may contain`,
      { field: appDefinitionFile },
    );
  }
  if (info.size > 256 * 1024) {
    throw new InputError(`${appDefinitionFile} is larger than 256 KiB`, { field: appDefinitionFile });
  }
  return parseAppDefinition(await readFile(path, 'utf8'), appDefinitionFile);
}

function view(row: {
  app: string;
  version: string;
  checksum: string;
  definition: unknown;
  path: string;
  size_bytes: string;
  created_at: Date;
}): ReleaseView {
  return {
    app: row.app,
    version: row.version,
    checksum: row.checksum,
    definition: row.definition as AppDefinition,
    path: row.path,
    sizeBytes: Number(row.size_bytes),
    createdAt: row.created_at.toISOString(),
  };
}

function notFound(app: string, version: string): NotFoundError {
  return new NotFoundError(
    `release ${showValue(app)} ${showValue(version)} does not exist; "steward release list" shows the releases`,
    { field: 'version' },
  );
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
