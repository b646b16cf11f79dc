import { maxGroups } from './claims.ts';
import type { IdpFetch } from './http.ts';

/**
 * Entra's groups overage, resolved through Microsoft Graph: a token of the
 * connection's own app (client credentials, the app needs
 * GroupMember.Read.All) and `POST /v1.0/users/{oid}/getMemberGroups`, which
 * answers the ids of every group the user is in, transitively, in one page.
 * The token lives only for the call; neither it nor the answer is logged.
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

export async function graphMemberGroups(fetch: IdpFetch, request: GraphRequest): Promise<string[]> {
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
  return groups.value.filter((v): v is string => typeof v === 'string').slice(0, maxGroups);
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
