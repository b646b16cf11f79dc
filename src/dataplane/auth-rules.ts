import { checkName, checkPath } from './names.ts';
import { answer, type EdgeFiles } from './rules.ts';
import { InputError, showValue } from '../core/errors.ts';

/**
 * The edge session's rules in a stage backend (issue 13): HAProxy checks
 * the session cookie itself, so a signed-in request costs no Node hop. The
 * decision is the one src/identity/sessions/claims.ts (edgeDecision)
 * specifies: the cookie's ES256 signature (jwt_verify with the key its
 * `kid` names; every published key is a file HAProxy loaded at start), its
 * `exp` against `date`, its `host` against the request's host, its
 * `tenant` against the backend's, its `sid` against the revoked map. A
 * valid token goes to the app as X-Steward-Identity; the cookie itself
 * never does. Which stages ask for it is a map (backend -> required |
 * optional) the controller changes at runtime, as is the revoked map.
 *
 * HAProxy 2.6.12 as checked on this machine: jwt_verify(ES256,"<file>")
 * takes the JWS signature form (r||s), answers 1 when it verifies, 0 or a
 * negative number otherwise (-3 for a malformed token); a key file must be
 * named in the config to be loaded. jwt_payload_query('$.exp','int') reads
 * a number claim.
 */
export const sessionCookieName = '__Host-steward-session';

/**
 * Tokens whose signature verified, by the SHA-256 of the whole token: an
 * ECDSA verification costs HAProxy some 50 us of CPU, a lookup here about
 * one; a token is verified once, then only its claims are checked (expiry,
 * host, tenant, revocation: every request). A hash of another token never
 * matches (that would take a SHA-256 collision); a full table only costs a
 * verification again.
 */
export const sessionTable = 'tb_session';

export function sessionTableSection(): string[] {
  return [`backend ${sessionTable}`, '    stick-table type binary len 32 size 100k expire 5m store gpt0', ''];
}

export interface EdgeAuthKey {
  readonly kid: string;
  /** The public key's PEM file (HAProxy loads it at start: a new key means a reload). */
  readonly file: string;
}

export interface EdgeAuth {
  /** backend -> required | optional; a backend not in it does not look at sessions. */
  readonly signInMap: string;
  /** Revoked session ids, `<sid> 1` a line, until their last token expires. */
  readonly revokedMap: string;
  readonly keys: readonly EdgeAuthKey[];
}

export function checkEdgeAuth(auth: EdgeAuth): void {
  checkPath('auth.signInMap', auth.signInMap);
  checkPath('auth.revokedMap', auth.revokedMap);
  if (auth.keys.length === 0 || auth.keys.length > 8) {
    throw new InputError(
      `auth.keys has ${auth.keys.length} keys: give from 1 to 8 (current, next, retired ones)`,
      {
        field: 'auth.keys',
      },
    );
  }
  for (const [index, key] of auth.keys.entries()) {
    checkName(`auth.keys[${index}].kid`, key.kid);
    checkPath(`auth.keys[${index}].file`, key.file);
    if (!/^[a-z0-9-]+$/.test(key.kid)) {
      throw new InputError(
        `auth.keys[${index}].kid ${showValue(key.kid)} is not accepted: use lower-case letters, digits and '-'`,
        { field: `auth.keys[${index}].kid` },
      );
    }
  }
}

/** The rules, for requests from the edge (fe_https) only: Steward's own probes on fe_stages skip them. */
export function authRules(files: EdgeFiles, auth: EdgeAuth, tenant: string | undefined): string[] {
  const token = 'var(txn.sess)';
  const lines = [
    `    http-request set-var(txn.signin) be_name,map(${auth.signInMap}) if from_edge`,
    '    acl signin_on var(txn.signin) -m found',
    '    acl signin_required var(txn.signin) -m str required',
    `    acl has_session req.cook_cnt(${sessionCookieName}) gt 0`,
    `    http-request set-var(txn.sess) req.cook(${sessionCookieName}) if signin_on has_session`,
    // Remembered: once the cookie is stripped below, has_session no longer sees it.
    '    http-request set-var(txn.sess_cookie) bool(1) if from_edge has_session',
    '    acl sess_cookie var(txn.sess_cookie) -m bool',
    `    http-request track-sc2 ${token},sha2(256) table ${sessionTable} if signin_on has_session`,
    '    acl sess_verified sc_get_gpt0(2) eq 1',
    '    http-request set-var(txn.sess_sig) int(1) if signin_on has_session sess_verified',
    `    http-request set-var(txn.sess_kid) ${token},jwt_header_query('$.kid') if signin_on has_session !sess_verified`,
    ...auth.keys.map(
      (key) =>
        `    http-request set-var(txn.sess_sig) ${token},jwt_verify(ES256,"${key.file}") if signin_on has_session !sess_verified { var(txn.sess_kid) -m str ${key.kid} }`,
    ),
    '    acl sess_signed var(txn.sess_sig) -m int 1',
    '    http-request sc-set-gpt0(2) 1 if sess_signed !sess_verified',
    `    http-request set-var(txn.sess_host) ${token},jwt_payload_query('$.host') if sess_signed`,
    `    http-request set-var(txn.sess_tenant) ${token},jwt_payload_query('$.tenant') if sess_signed`,
    `    http-request set-var(txn.sess_sid) ${token},jwt_payload_query('$.sid') if sess_signed`,
    `    http-request set-var(txn.sess_exp) ${token},jwt_payload_query('$.exp','int') if sess_signed`,
    '    http-request set-var(txn.sess_left) date,neg,add(txn.sess_exp) if sess_signed',
    '    acl sess_host_ok var(txn.sess_host),strcmp(txn.host) eq 0',
    tenant === undefined
      ? '    acl sess_tenant_ok always_false'
      : `    acl sess_tenant_ok var(txn.sess_tenant) -m str ${tenant}`,
    `    acl sess_revoked var(txn.sess_sid),map(${auth.revokedMap}) -m found`,
    '    acl sess_live var(txn.sess_left) -m int gt 0',
    // An ACL cannot name ACLs: the verdict is kept in a variable.
    '    http-request set-var(txn.sess_ok) bool(1) if sess_signed sess_host_ok sess_tenant_ok !sess_revoked',
    '    acl sess_ours var(txn.sess_ok) -m bool',
    // The cookie never reaches the app, whatever it holds; the app's other cookies do.
    `    http-request set-header Cookie "%[req.fhdr(cookie),regsub('(^|; *)${sessionCookieName}=[^;]*','',g),regsub('^; *','')]" if sess_cookie`,
    '    http-request del-header Cookie if sess_cookie !{ req.fhdr(cookie) -m reg . }',
    // The edge strips a client's X-Steward-* already (fe_https); only the verified token is set here.
    '    http-request del-header X-Steward-Identity',
    `    http-request set-header X-Steward-Identity %[${token}] if signin_on sess_ours sess_live`,
    // A page load without a valid session goes to sign in (or to refresh, when the token is only expired).
    // A GET or HEAD that a browser sends as a navigation (Sec-Fetch-Mode: navigate, or no such header).
    '    acl has_fetch_mode req.hdr(sec-fetch-mode) -m found',
    '    acl navigate req.hdr(sec-fetch-mode) -m str navigate',
    '    http-request set-var(txn.page_load) bool(1) if signin_on METH_GET !has_fetch_mode || signin_on METH_GET navigate',
    '    acl page_load var(txn.page_load) -m bool',
    '    http-request set-var(txn.rd) pathq,url_enc if signin_required !sess_ours || sess_ours !sess_live',
    // Optional sign-in too: a signed-in user whose token only expired stays signed in.
    '    http-request redirect location /.steward/auth/refresh?rd=%[var(txn.rd)] code 302 if signin_on sess_ours !sess_live page_load',
    '    http-request redirect location /.steward/auth/login?rd=%[var(txn.rd)] code 302 if signin_required !sess_ours page_load',
    answer(files, 401, 'signin_required !sess_ours || signin_required !sess_live', {
      headers: { 'Cache-Control': 'no-store' },
    }),
  ];
  return lines;
}
