import type { IncomingHttpHeaders } from 'node:http';

/**
 * Who is asking, as the Steward gateway tells the app after single sign-on.
 * The gateway strips these headers from the outside, so the app trusts them;
 * without them (no gateway in front, or not signed in) the user is anonymous.
 */
export interface Identity {
  readonly authenticated: boolean;
  readonly id: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
}

export const anonymous: Identity = {
  authenticated: false,
  id: 'anonymous',
  email: null,
  name: null,
  groups: [],
};

function header(headers: IncomingHttpHeaders, name: string, max = 256): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed.slice(0, max) : undefined;
}

export function identityOf(headers: IncomingHttpHeaders): Identity {
  const id = header(headers, 'x-steward-user-id');
  if (!id) return anonymous;
  const groups = (header(headers, 'x-steward-groups', 4096) ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
  return {
    authenticated: true,
    id,
    email: header(headers, 'x-steward-user-email') ?? null,
    name: header(headers, 'x-steward-user-name') ?? null,
    groups,
  };
}
