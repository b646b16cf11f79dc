/**
 * What the access log keeps of a request target: the query string stays for
 * debugging, but the value of any parameter whose name looks like a secret
 * becomes `[redacted]` (HAProxy's log format in src/dataplane/access-log.ts
 * and the receiver in access-log-stream.ts both use these words).
 */

/**
 * Parameter names (lower case, matched as substrings, so `access_token`,
 * `client_secret`, `X-Amz-Signature` and `sessionid` are all caught) whose
 * values are never logged. Matching too much costs a redacted value in a
 * log; matching too little leaks a credential.
 */
export const secretParameterWords = [
  'token',
  'password',
  'passwd',
  'pwd',
  'secret',
  'code',
  'key',
  'signature',
  'sig',
  'session',
  'auth',
  'credential',
  'jwt',
  'otp',
  'ticket',
  'state',
  'nonce',
  'assertion',
  'saml',
] as const;

export const redacted = '[redacted]';

/** Longest path (with query) and user agent written to a log line. */
export const accessLogMaxPath = 2048;
export const accessLogMaxUserAgent = 512;

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

function isSecretName(raw: string): boolean {
  const name = decodedName(raw);
  return secretParameterWords.some((word) => name.includes(word));
}

/** The target with each secret parameter's value replaced by `[redacted]`, bounded in length. */
export function redactTarget(target: string): string {
  const hash = target.indexOf('#');
  const withoutFragment = hash < 0 ? target : target.slice(0, hash);
  const question = withoutFragment.indexOf('?');
  if (question < 0) return bound(withoutFragment, accessLogMaxPath);
  const path = withoutFragment.slice(0, question);
  const query = withoutFragment
    .slice(question + 1)
    .split('&')
    .map((part) => {
      const equals = part.indexOf('=');
      // A bare value (`?eyJhbGci…`) has no name to judge by: it may be the secret itself.
      if (equals < 0) return part === '' || !looksLikeValue(part) ? part : redacted;
      const name = part.slice(0, equals);
      return isSecretName(name) ? `${name}=${redacted}` : part;
    })
    .join('&');
  return bound(`${path}?${query}`, accessLogMaxPath);
}

/** A flag like `?debug` or `?print` is a name; a long opaque run is treated as a value. */
function looksLikeValue(part: string): boolean {
  return part.length > 24 || isSecretName(part);
}

function bound(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
