/** The tenant admin's pages' pure rules (no React): tested in tenant-admin.test.ts. */

/**
 * Whose tenant a `/t/:tenant/…` URL names, and whether the signed-in tenant
 * admin may open it: only its own. A pasted link to another tenant gets a
 * refusal that says so, and no request leaves the page (the API refuses it
 * too; the console only spares the round trip).
 */
export function scopeRefusal(viewer: string | null, requested: string): 'none' | 'other-tenant' {
  return viewer !== null && viewer === requested ? 'none' : 'other-tenant';
}

/** A link inside the tenant admin's console: `/t/<tenant>/<rest>`. */
export function consolePath(tenant: string, rest = ''): string {
  return `/t/${encodeURIComponent(tenant)}${rest ? `/${rest}` : ''}`;
}
