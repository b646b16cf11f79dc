import type { Region } from '../core/config.ts';
import { InputError, showValue } from '../core/errors.ts';

/** Where one backup repository lives: its name (repo1, repo2, …) and its region. */
export interface RepositoryPlacement {
  readonly name: string;
  readonly region: string;
}

function describeRegions(regions: readonly Pick<Region, 'name' | 'geography'>[]): string {
  return regions.length === 0
    ? 'none are configured'
    : regions.map((r) => `${r.name} (${r.geography})`).join(', ');
}

/**
 * A tenant's backups never leave its geography: every repository that holds
 * them must be in a configured region of the tenant's geography. Pure; throws
 * an InputError naming the first repository that is not, and what would be.
 */
export function checkRepositoryGeography(
  regions: readonly Pick<Region, 'name' | 'geography'>[],
  repositories: readonly RepositoryPlacement[],
  tenant: { readonly slug: string; readonly region: string },
): void {
  const byName = new Map(regions.map((r) => [r.name, r]));
  const home = byName.get(tenant.region);
  if (!home) {
    throw new InputError(
      `tenant ${tenant.slug}'s region ${showValue(tenant.region)} is not a configured region; configured: ${describeRegions(regions)}`,
      { field: 'region' },
    );
  }
  const allowed = regions.filter((r) => r.geography === home.geography).map((r) => r.name);
  for (const [index, repo] of repositories.entries()) {
    const field = `repositories[${index}].region`;
    const region = byName.get(repo.region);
    if (!region) {
      throw new InputError(
        `backup repository ${repo.name} names region ${showValue(repo.region)}, which is not configured; choose a repository region in ${home.geography} (${allowed.join(', ')})`,
        { field },
      );
    }
    if (region.geography !== home.geography) {
      throw new InputError(
        `backup repository ${repo.name} is in region ${region.name} (geography ${region.geography}), outside tenant ${tenant.slug}'s geography ${home.geography}; choose a repository region in ${home.geography} (${allowed.join(', ')})`,
        { field },
      );
    }
  }
}
