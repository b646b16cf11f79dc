import { randomInt } from 'node:crypto';
import { InputError, showValue } from './errors.ts';

/**
 * Tenant slugs are DNS labels (they become hostnames). The limits date from
 * when database names carried them (`<prefix><tenant>_<stage>`, 63 bytes at
 * most); installations still hold such names until the reconciler renames
 * them, and hostnames and paths are built from them, so they stay.
 */
export const tenantSlugMaxLength = 40;
export const stageNameMaxLength = 14;

const tenantSlugPattern = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;
const stageNamePattern = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;

export const reservedTenantSlugs = [
  'admin',
  'api',
  'app',
  'auth',
  'console',
  'default',
  'dev',
  'localhost',
  'login',
  'mail',
  'metrics',
  'postgres',
  'prod',
  'root',
  'smtp',
  'sso',
  'static',
  'status',
  'steward',
  'template0',
  'template1',
  'test',
  'www',
] as const;

const tenantSlugRule = `1-${tenantSlugMaxLength} characters: lower-case a-z, digits and single hyphens, starting with a letter and not ending with a hyphen (for example "acme" or "acme-gmbh")`;
const stageNameRule = `1-${stageNameMaxLength} characters: lower-case a-z, digits and single hyphens, starting with a letter and not ending with a hyphen (for example "dev", "prod" or "prod-restored")`;

/** Returns a message naming what is wrong, or undefined when the slug is acceptable. */
export function tenantSlugProblem(slug: string): string | undefined {
  if (slug.length === 0 || slug.length > tenantSlugMaxLength || !tenantSlugPattern.test(slug)) {
    return `tenant slug ${showValue(slug)} is not accepted: use ${tenantSlugRule}`;
  }
  if (slug.includes('--')) {
    return `tenant slug ${showValue(slug)} is not accepted: two hyphens in a row are reserved (IDN labels); use ${tenantSlugRule}`;
  }
  if ((reservedTenantSlugs as readonly string[]).includes(slug)) {
    return `tenant slug ${showValue(slug)} is reserved; reserved names are: ${reservedTenantSlugs.join(', ')}`;
  }
  return undefined;
}

export function stageNameProblem(name: string): string | undefined {
  if (
    name.length === 0 ||
    name.length > stageNameMaxLength ||
    !stageNamePattern.test(name) ||
    name.includes('--')
  ) {
    return `stage name ${showValue(name)} is not accepted: use ${stageNameRule}`;
  }
  return undefined;
}

export function assertTenantSlug(slug: string, field = 'slug'): string {
  const problem = tenantSlugProblem(slug);
  if (problem) throw new InputError(problem, { field });
  return slug;
}

export function assertStageName(name: string, field = 'stage'): string {
  const problem = stageNameProblem(name);
  if (problem) throw new InputError(problem, { field });
  return name;
}

/**
 * A stage's database and its role share one name: pg_hba's `samerole` rule
 * then lets a stage role reach its own database and nothing else. The name is
 * the installation's prefix and 12 random characters, chosen once when the
 * stage is created and kept in the control DB (stages.database_name): every
 * role of a shared cluster can read pg_database, pg_roles and
 * pg_stat_activity, so a name built from the tenant's slug would show each
 * customer the vendor's other customers. The prefix keeps installations (and
 * test files) sharing one cluster apart. Consonants and digits only: no word,
 * and so no slug, can appear by chance. 29^12 (about 2^58) names make a
 * collision practically impossible, and the unique column refuses one anyway.
 * Short on purpose: the name is also a dedicated cluster's directory and
 * stanza, and so part of socket paths, which PostgreSQL limits to 107 bytes.
 */
export const opaqueNameAlphabet = '0123456789bcdfghjkmnpqrstvwxz';
export const opaqueNameLength = 12;

export function newStageDatabaseName(prefix: string): string {
  let name = prefix;
  for (let i = 0; i < opaqueNameLength; i++) name += opaqueNameAlphabet[randomInt(opaqueNameAlphabet.length)];
  return name;
}

/**
 * Whether a stage's database name is of the old kind, `<prefix><tenant>_<stage>`,
 * which names the customer. An instance prefix ends at its one underscore and
 * the opaque alphabet has none, so a second underscore tells them apart.
 */
export function isSlugDatabaseName(name: string): boolean {
  return name.slice(name.indexOf('_') + 1).includes('_');
}

/**
 * The name a database kept by an in-place restore (`<live>_pre_<yyyymmddhhmmss>`)
 * takes when its stage's database is renamed to `to`: the time stays. Undefined
 * for a name of another shape.
 */
export function keptDatabaseAfterRename(kept: string, to: string): string | undefined {
  const suffix = /_pre_\d{14}$/.exec(kept)?.[0];
  return suffix === undefined ? undefined : `${to}${suffix}`;
}

export const operatorNamePattern = /^[a-z][a-z0-9._-]{0,62}$/;
export const operatorNameRule =
  '1-63 characters: lower-case a-z, digits, ".", "_" and "-", starting with a letter';
