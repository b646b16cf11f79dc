import { maxGroups } from './claims.ts';
import type { IdpFetch } from './http.ts';

/**
 * Entra's groups overage, resolved through Microsoft Graph: a token of the
 * connection's own app (client credentials, the app needs
 * GroupMember.Read.All) and `POST /v1.0/users/{oid}/getMemberGroups`, which
 * answers the ids of every group the user is in, transitively, in one page;
 * then `POST /v1.0/directoryObjects/getByIds` for their display names (1,000
 * ids a call; a group Graph names no name for keeps its id as its name). The
 * token lives only for the call; neither it nor the answer is logged.
 */
export interface GraphRequest {
  /** `https://<login host>/<tid>/oauth2/v2.0/token`. */
  readonly tokenUrl: string;
  readonly graphUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly objectId: string;
}

export class GraphError extends Error {}

export interface GraphGroup {
  readonly id: string;
  readonly displayName: string | null;
}

export async function graphMemberGroups(fetch: IdpFetch, request: GraphRequest): Promise<GraphGroup[]> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: request.clientId,
    client_secret: request.clientSecret,
    scope: `${request.graphUrl}/.default`,
  });
  const tokenResponse = await fetch(request.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
  });
  const token = (await json(tokenResponse, 'the token endpoint')) as { access_token?: unknown };
  if (typeof token.access_token !== 'string')
    throw new GraphError('the token endpoint answered no access token');
  const groupsResponse = await fetch(
    `${request.graphUrl}/v1.0/users/${encodeURIComponent(request.objectId)}/getMemberGroups`,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({ securityEnabledOnly: false }),
    },
  );
  const groups = (await json(groupsResponse, 'Graph')) as { value?: unknown };
  if (!Array.isArray(groups.value)) throw new GraphError('Graph answered no list of groups');
  const ids = groups.value.filter((v): v is string => typeof v === 'string').slice(0, maxGroups);
  const names = new Map<string, string>();
  for (let at = 0; at < ids.length; at += 1000) {
    const byIds = await fetch(`${request.graphUrl}/v1.0/directoryObjects/getByIds`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({ ids: ids.slice(at, at + 1000), types: ['group'] }),
    });
    const named = (await json(byIds, 'Graph (group names)')) as { value?: unknown };
    for (const object of Array.isArray(named.value) ? (named.value as unknown[]) : []) {
      const { id, displayName } = (object ?? {}) as { id?: unknown; displayName?: unknown };
      if (typeof id === 'string' && typeof displayName === 'string' && displayName.trim()) {
        names.set(id, displayName.trim().slice(0, 256));
      }
    }
  }
  return ids.map((id) => ({ id, displayName: names.get(id) ?? null }));
}

async function json(response: Response, what: string): Promise<unknown> {
  if (!response.ok) {
    // The error code only: Graph's and Entra's error bodies may echo request details.
    let code = '';
    try {
      const body = (await response.json()) as { error?: unknown };
      const error = body.error;
      code =
        typeof error === 'string'
          ? error
          : typeof error === 'object' &&
              error !== null &&
              typeof (error as { code?: unknown }).code === 'string'
            ? (error as { code: string }).code
            : '';
    } catch {
      code = '';
    }
    throw new GraphError(`${what} answered ${response.status}${code ? ` ${code.slice(0, 80)}` : ''}`);
  }
  return response.json();
}
