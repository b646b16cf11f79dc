import { sql } from 'kysely';
import type { BackupRepositoryConfig, Config } from '../core/config.ts';
import { repositoryPlacements } from '../backups/index.ts';
import type { Queryable } from '../store/db.ts';

/** A backup repository as the regions view shows it: where, never its keys (those are not in the config). */
export interface RegionRepositoryView {
  /** repo1 (regional), repo2 (off-site). */
  readonly name: string;
  readonly kind: 'path' | 's3';
  /** A directory, or s3://bucket/prefix at the endpoint. */
  readonly location: string;
}

export interface RegionView {
  readonly name: string;
  /** null: a region tenants are still placed in but the config no longer names. */
  readonly geography: string | null;
  readonly isDefault: boolean;
  /** In the config's `regions`; false: only tenants remember it. */
  readonly configured: boolean;
  /** Tenants placed here (those being deleted not counted), and their stages. */
  readonly tenants: number;
  readonly stages: number;
  /** The backup repositories in this region. */
  readonly backupRepositories: readonly RegionRepositoryView[];
  /** Why a new tenant here cannot be created while backups are on (a repository outside its geography); null: it can. */
  readonly backupResidency: string | null;
}

export interface RegionsView {
  readonly defaultRegion: string;
  /** False: regions are set in the config file (regions, defaultRegion); change them there and restart. */
  readonly editable: false;
  readonly regions: readonly RegionView[];
}

export interface RegionCount {
  readonly region: string;
  readonly tenants: number;
  readonly stages: number;
}

function location(repo: BackupRepositoryConfig): string {
  if (repo.kind === 'path') return repo.path;
  const port = repo.port === undefined ? '' : `:${repo.port}`;
  return `s3://${repo.bucket}${repo.path} at ${repo.endpoint}${port} (${repo.s3Region})`;
}

/** The regions of this config with their tenants and backup repositories; pure. */
export function regionViews(config: Config, counts: readonly RegionCount[]): RegionsView {
  const byRegion = new Map(counts.map((c) => [c.region, c]));
  const repositories = config.backups.enabled ? config.backups.repositories : [];
  const placements = repositoryPlacements({ ...config.backups, repositories });
  const geographyOf = new Map(config.regions.map((r) => [r.name, r.geography]));
  const view = (name: string, geography: string | null): RegionView => {
    // The rule tenant creation applies (backups/geography.ts): every repository in the tenant's geography.
    const outside = placements.filter((p) => geographyOf.get(p.region) !== geography);
    const backupResidency =
      geography === null || outside.length === 0
        ? null
        : `backup repositories ${outside.map((p) => `${p.name} (${p.region}, ${geographyOf.get(p.region) ?? 'unknown'})`).join(', ')} are outside geography ${geography}: no tenant can be created here while backups are on`;
    return {
      name,
      geography,
      isDefault: name === config.defaultRegion,
      configured: geography !== null,
      tenants: byRegion.get(name)?.tenants ?? 0,
      stages: byRegion.get(name)?.stages ?? 0,
      backupRepositories: repositories.flatMap((repo, index) =>
        repo.region === name ? [{ name: `repo${index + 1}`, kind: repo.kind, location: location(repo) }] : [],
      ),
      backupResidency,
    };
  };
  const known = new Set(config.regions.map((r) => r.name));
  const forgotten = counts
    .filter((c) => !known.has(c.region))
    .map((c) => c.region)
    .sort();
  return {
    defaultRegion: config.defaultRegion,
    editable: false,
    regions: [
      ...config.regions.map((r) => view(r.name, r.geography)),
      ...forgotten.map((name) => view(name, null)),
    ],
  };
}

/** Tenants (not being deleted) and their stages, per region: one grouped read. */
export async function countPerRegion(db: Queryable): Promise<RegionCount[]> {
  const { rows } = await sql<{ region: string; tenants: string; stages: string }>`
    select t.region, count(distinct t.id) as tenants, count(s.id) as stages
      from tenants t left join stages s on s.tenant_id = t.id
     where t.desired <> 'absent'
     group by t.region`.execute(db);
  return rows.map((r) => ({ region: r.region, tenants: Number(r.tenants), stages: Number(r.stages) }));
}
