import { InputError, showValue } from './errors.ts';

/**
 * Tenant slugs are DNS labels (they become hostnames) short enough that
 * `<prefix><tenant>_<stage>` stays within PostgreSQL's 63-byte identifiers.
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
 * The database and its role share one name: pg_hba's `samerole` rule then lets a
 * stage role reach its own database and nothing else. A tenant's hyphens become
 * underscores and a stage's stay hyphens, so the last underscore always
 * separates the stage and no two tenant/stage pairs share a name. At the
 * longest: 8 + 40 + 1 + 14 = 63 bytes, PostgreSQL's limit.
 */
export function stageDatabaseName(prefix: string, tenant: string, stage: string): string {
  return `${prefix}${tenant.replaceAll('-', '_')}_${stage}`;
}

export const operatorNamePattern = /^[a-z][a-z0-9._-]{0,62}$/;
export const operatorNameRule =
  '1-63 characters: lower-case a-z, digits, ".", "_" and "-", starting with a letter';
