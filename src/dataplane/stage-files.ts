import { mkdir, readdir, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { tenantRateForTier, type GatewayLimits } from '../gateway/limits.ts';
import { writePrivate } from './certificates.ts';
import type { DataPlaneFiles } from './config.ts';
import { renderErrorPages } from './pages.ts';
import { diffMap, mapChangeCount, renderMapFile, type DesiredStage } from './plan.ts';
import { allowListFile, allowListText } from './rules.ts';
import type { MapEntry, RuntimeApi } from './runtime-api.ts';

/**
 * The files the rendered config reads besides itself, and their runtime
 * twins: the routes map (host -> backend), the maintenance map (backend ->
 * 1), each stage backend's allow list (an ACL file) and the tenants' rates.
 * Each is written whole (a reload or a new HAProxy loads it), and changed in
 * the running HAProxy through the runtime API, so that no change of them
 * needs a reload.
 */
export class StageFiles {
  readonly #files: DataPlaneFiles;
  readonly #logger: Logger;
  /** Allow lists as HAProxy holds them, by backend. */
  #allowLists = new Map<string, string>();

  readonly #limits: GatewayLimits;

  constructor(files: DataPlaneFiles, limits: GatewayLimits, logger: Logger) {
    this.#files = files;
    this.#limits = limits;
    this.#logger = logger;
  }

  /** The branded error pages and the directories: once, before HAProxy first reads them. */
  async prepare(): Promise<void> {
    await mkdir(this.#files.errorDir, { recursive: true, mode: 0o700 });
    await mkdir(this.#files.allowDir, { recursive: true, mode: 0o700 });
    for (const page of renderErrorPages())
      await writePrivate(`${this.#files.errorDir}/${page.name}`, page.content);
  }

  /** Writes every file for the desired state (callers hold the exclusive section). */
  async write(routes: readonly MapEntry[], stages: readonly DesiredStage[]): Promise<void> {
    await writePrivate(this.#files.routesMap, renderMapFile(routes));
    await writePrivate(this.#files.maintenanceMap, renderMapFile(maintenanceEntries(stages)));
    await writePrivate(this.#files.tenantLimits, renderMapFile(tenantRates(stages, this.#limits)));
    for (const stage of stages) {
      await writePrivate(allowListFile(this.#files, stage.backend), allowText(stage));
    }
  }

  /** What a HAProxy that just loaded the files holds. */
  loaded(stages: readonly DesiredStage[]): void {
    this.#allowLists = new Map(stages.map((stage) => [stage.backend, allowText(stage)]));
  }

  /** Reads an adopted HAProxy's allow lists: it may hold what an earlier Steward set. */
  async observe(api: RuntimeApi, stages: readonly DesiredStage[]): Promise<void> {
    const held = new Map<string, string>();
    for (const stage of stages) {
      const entries = await api.showAcl(allowListFile(this.#files, stage.backend)).catch(() => undefined);
      if (entries) held.set(stage.backend, entries.length === 0 ? '' : `${entries.join('\n')}\n`);
    }
    this.#allowLists = held;
  }

  /** Brings the running HAProxy to the files' content, entry by entry: routes, maintenance, allow lists. */
  async apply(
    api: RuntimeApi,
    routes: readonly MapEntry[],
    stages: readonly DesiredStage[],
  ): Promise<number> {
    let changes = await applyMap(api, this.#files.routesMap, routes);
    // The maintenance and tenant-rate maps are used by stage backends only: with none, HAProxy has not loaded them.
    if (stages.length === 0) return changes;
    const maintenance = diffMap(await api.showMap(this.#files.maintenanceMap), maintenanceEntries(stages));
    for (const entry of maintenance.add)
      await api.setMaintenance(this.#files.maintenanceMap, entry.key, true);
    for (const backend of maintenance.del)
      await api.setMaintenance(this.#files.maintenanceMap, backend, false);
    changes += mapChangeCount(maintenance);
    const rates = diffMap(await api.showMap(this.#files.tenantLimits), tenantRates(stages, this.#limits));
    for (const entry of [...rates.add, ...rates.set])
      await api.setTenantRate(this.#files.tenantLimits, entry.key, Number(entry.value));
    for (const tenant of rates.del) await api.setTenantRate(this.#files.tenantLimits, tenant, undefined);
    changes += mapChangeCount(rates);
    for (const stage of stages) {
      const text = allowText(stage);
      if (this.#allowLists.get(stage.backend) === text) continue;
      await api.replaceAcl(allowListFile(this.#files, stage.backend), text.split('\n').filter(Boolean));
      this.#allowLists.set(stage.backend, text);
      changes += 1;
    }
    if (changes > 0) this.#logger.debug({ changes }, 'routes, maintenance and allow lists applied');
    return changes;
  }

  /** Removes the allow lists of backends that are gone (after the reload that dropped them). */
  async prune(stages: readonly DesiredStage[]): Promise<void> {
    const wanted = new Set(stages.map((stage) => `${stage.backend}.acl`));
    for (const name of await readdir(this.#files.allowDir).catch(() => [])) {
      if (name.endsWith('.acl') && !wanted.has(name))
        await rm(`${this.#files.allowDir}/${name}`, { force: true });
    }
    for (const backend of this.#allowLists.keys()) {
      if (!wanted.has(`${backend}.acl`)) this.#allowLists.delete(backend);
    }
  }
}

function allowText(stage: DesiredStage): string {
  return allowListText(stage.allowFrom ?? undefined);
}

/** Each tenant's request rate at the edge, by its tier: the tenant map. */
export function tenantRates(stages: readonly DesiredStage[], limits: GatewayLimits): MapEntry[] {
  const tiers = new Map(stages.map((stage) => [stage.tenant, stage.tier]));
  return [...tiers]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tenant, tier]) => ({ key: tenant, value: String(tenantRateForTier(limits, tier)) }));
}

export function maintenanceEntries(stages: readonly DesiredStage[]): MapEntry[] {
  return stages.filter((stage) => stage.maintenance).map((stage) => ({ key: stage.backend, value: '1' }));
}

/** Routes entry by entry for a few changes; a whole new map version, committed at once, for many. */
async function applyMap(api: RuntimeApi, mapFile: string, desired: readonly MapEntry[]): Promise<number> {
  const changes = diffMap(await api.showMap(mapFile), desired);
  const count = mapChangeCount(changes);
  if (count === 0) return 0;
  if (count > 50) {
    await api.replaceMap(mapFile, desired);
  } else {
    for (const key of changes.del) await api.delMapEntry(mapFile, key);
    for (const entry of changes.set) await api.setMapEntry(mapFile, entry.key, entry.value);
    for (const entry of changes.add) await api.addMapEntry(mapFile, entry.key, entry.value);
  }
  return count;
}
