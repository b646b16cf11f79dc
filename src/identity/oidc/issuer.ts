import { InputError, showValue } from '../../core/errors.ts';

/**
 * Which issuers a connection accepts, decided from its kind and the issuer
 * the operator typed, before anything is stored. Pure: the planner of a
 * connection's trust, table-tested.
 *
 * Exact pinning: discovery must name exactly this issuer, and so must every
 * ID token. The one exception is a Microsoft Entra multi-tenant app
 * (`…/common/v2.0`, `…/organizations/v2.0`): its discovery names the
 * template `…/{tenantid}/v2.0`, and a token's `iss` must be that template
 * with the token's own `tid` put in, and that `tid` must be on the
 * connection's allow-list. An allow-list is required: never "any tenant".
 */
export const connectionKinds = ['generic', 'entra', 'okta'] as const;
export type ConnectionKind = (typeof connectionKinds)[number];

export const tenantIdPlaceholder = '{tenantid}';

export type IssuerTrust =
  /** One issuer; for Entra single-tenant also the one `tid` its tokens carry. */
  | { readonly kind: 'exact'; readonly issuer: string; readonly tid: string | null }
  /** Entra multi-tenant: discovery's issuer is `template`; tokens' `tid` must be in `allowedTids`. */
  | { readonly kind: 'template'; readonly template: string; readonly allowedTids: readonly string[] };

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const multiTenant = ['common', 'organizations'] as const;

export function isTid(value: string): boolean {
  return guid.test(value);
}

function parseHttps(field: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`field "${field}": ${showValue(value)} is not a URL; give an https:// URL`, {
      field,
    });
  }
  if (url.protocol !== 'https:' || url.search || url.hash || url.username || url.password) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; give an https:// URL without query, fragment or credentials`,
      { field },
    );
  }
  return url;
}

/**
 * The trust of a connection: its issuer checked against its kind's forms.
 * Entra: `https://<login host>/<tid>/v2.0` and `https://sts.windows.net/<tid>/`
 * (single tenant; the `tid` is implied), `https://<login host>/common/v2.0` or
 * `…/organizations/v2.0` (multi-tenant, only with `allowedTids`). The login
 * host is free (sovereign clouds: login.microsoftonline.us, …). Okta: the org
 * server `https://<org>.okta.com` or a custom one `https://<org>.okta.com/oauth2/<id>`,
 * as configured (the two issue different tokens). Generic: any https issuer.
 */
export function issuerTrust(
  kind: ConnectionKind,
  issuer: string,
  allowedTids: readonly string[],
): IssuerTrust {
  const url = parseHttps('issuer', issuer);
  for (const tid of allowedTids) {
    if (!isTid(tid)) {
      throw new InputError(
        `field "allowedTids": ${showValue(tid)} is not an Entra tenant id; give GUIDs in lower case (8-4-4-4-12 hex digits)`,
        { field: 'allowedTids' },
      );
    }
  }
  if (kind !== 'entra' && allowedTids.length > 0) {
    throw new InputError(
      `field "allowedTids": only a connection of kind entra has tenant ids; this one is ${kind}`,
      { field: 'allowedTids' },
    );
  }
  if (kind === 'entra') return entraTrust(url, issuer, allowedTids);
  if (kind === 'okta') {
    const path = url.pathname;
    if (!(path === '/' && !issuer.endsWith('/')) && !/^\/oauth2\/[A-Za-z0-9]{1,64}$/.test(path)) {
      throw new InputError(
        `field "issuer": ${showValue(issuer)} is not an Okta issuer; give the org authorization server https://<org>.okta.com or a custom one https://<org>.okta.com/oauth2/<id> (no trailing slash)`,
        { field: 'issuer' },
      );
    }
  }
  return { kind: 'exact', issuer, tid: null };
}

function entraTrust(url: URL, issuer: string, allowedTids: readonly string[]): IssuerTrust {
  const v2 = /^\/([^/]+)\/v2\.0$/.exec(url.pathname);
  const v1 = /^\/([^/]+)\/$/.exec(url.pathname);
  const tenant = (v2 ?? v1)?.[1];
  const accepted =
    'give https://login.microsoftonline.com/<tid>/v2.0, https://sts.windows.net/<tid>/, or https://login.microsoftonline.com/organizations/v2.0 (or common) with allowedTids (a sovereign cloud: its own login host)';
  if (tenant === undefined) {
    throw new InputError(`field "issuer": ${showValue(issuer)} is not an Entra issuer; ${accepted}`, {
      field: 'issuer',
    });
  }
  if (isTid(tenant)) {
    if (allowedTids.some((tid) => tid !== tenant)) {
      throw new InputError(
        `field "allowedTids": the issuer is single-tenant (tid ${tenant}); leave allowedTids empty or give only that tid`,
        { field: 'allowedTids' },
      );
    }
    return { kind: 'exact', issuer, tid: tenant };
  }
  if (v2 && (multiTenant as readonly string[]).includes(tenant)) {
    if (allowedTids.length === 0) {
      throw new InputError(
        `field "allowedTids": a multi-tenant Entra app (${tenant}) needs the list of tenant ids allowed to sign in; "any tenant" is never accepted`,
        { field: 'allowedTids' },
      );
    }
    return { kind: 'template', template: `${url.origin}/${tenantIdPlaceholder}/v2.0`, allowedTids };
  }
  throw new InputError(
    `field "issuer": ${showValue(issuer)} names tenant ${showValue(tenant)}, which is neither a tenant id nor common/organizations (v2.0); ${accepted}`,
    { field: 'issuer' },
  );
}

/** The issuer discovery must name for this trust. */
export function discoveredIssuer(trust: IssuerTrust): string {
  return trust.kind === 'exact' ? trust.issuer : trust.template;
}

/** Where the discovery document is: the issuer as typed (for `common`, not the template). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

export type TokenIssuerCheck =
  | { readonly ok: true; readonly issuer: string }
  | { readonly ok: false; readonly reason: 'not_allowed' | 'idp_error'; readonly detail: string };

/**
 * The issuer an ID token with this `tid` must carry, and whether the tid may
 * sign in at all. For a template trust the tid comes from the token before
 * its signature is checked: the answer is only ever used to check it.
 */
export function tokenIssuer(trust: IssuerTrust, tid: unknown): TokenIssuerCheck {
  if (trust.kind === 'exact') {
    if (trust.tid !== null && tid !== trust.tid) {
      return {
        ok: false,
        reason: 'not_allowed',
        detail: `tid ${describe(tid)} is not the issuer's ${trust.tid}`,
      };
    }
    return { ok: true, issuer: trust.issuer };
  }
  if (typeof tid !== 'string' || !isTid(tid)) {
    return { ok: false, reason: 'idp_error', detail: `the ID token has no tenant id (tid ${describe(tid)})` };
  }
  if (!trust.allowedTids.includes(tid)) {
    return {
      ok: false,
      reason: 'not_allowed',
      detail: `tid ${tid} is not in the connection's allowed tenant ids`,
    };
  }
  return { ok: true, issuer: trust.template.replace(tenantIdPlaceholder, tid) };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? showValue(value) : value === undefined ? 'missing' : showValue(value);
}

/**
 * The URL of Entra's token endpoint for one directory (client credentials for
 * Microsoft Graph): on the issuer's own login host.
 */
export function entraTokenEndpoint(issuer: string, tid: string): string {
  const origin = new URL(issuer).origin;
  // The v1 issuer's host issues no tokens: its login host is the public cloud's.
  const login = origin === 'https://sts.windows.net' ? 'https://login.microsoftonline.com' : origin;
  return `${login}/${tid}/oauth2/v2.0/token`;
}
