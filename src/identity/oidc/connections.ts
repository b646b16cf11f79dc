import { z } from 'zod';
import { InputError, showValue } from '../../core/errors.ts';
import { claimNamePattern } from './claims.ts';
import { connectionKinds, issuerTrust, type ConnectionKind, type IssuerTrust } from './issuer.ts';

/**
 * A tenant's OIDC connection: the input the API accepts, and the resolved
 * connection the sign-in uses. The client secret is never part of a view.
 */
const claimName = z
  .string()
  .regex(claimNamePattern, 'a claim name: letters, digits, _ . : -, starting with a letter or _, at most 64');

export const addConnectionSchema = z
  .object({
    name: z
      .string()
      .regex(
        /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/,
        'a name of 1-40 lower-case letters, digits and hyphens (it is in the sign-in URL: /.steward/auth/oidc/<name>)',
      ),
    kind: z.enum(connectionKinds),
    issuer: z.string().min(1).max(512),
    clientId: z.string().min(1).max(256),
    clientSecret: z.string().min(1).max(1024),
    label: z.string().min(1).max(80).optional(),
    stage: z.string().min(1).max(14).optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, 'a scope token (RFC 6749)'))
      .min(1)
      .max(20)
      .optional(),
    allowedTids: z.array(z.string()).max(100).default([]),
    joinClaim: claimName.optional(),
    groupsClaim: claimName.nullable().optional(),
    graphUrl: z.string().max(256).nullable().optional(),
    provision: z.boolean().default(false),
  })
  .strict();
export type AddConnectionInput = z.input<typeof addConnectionSchema>;

/** A connection as the sign-in uses it: every default filled in, the issuer's trust decided. */
export interface OidcConnection {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly stage: string | null;
  readonly label: string;
  readonly kind: ConnectionKind;
  readonly issuer: string;
  readonly trust: IssuerTrust;
  readonly clientId: string;
  /** The `secrets` row holding the client secret. */
  readonly secretName: string;
  readonly scopes: readonly string[];
  readonly joinClaim: string;
  readonly groupsClaim: string | null;
  readonly graphUrl: string | null;
  readonly provision: boolean;
}

/** What the API and CLI show: no secret, nothing the sign-in derives. */
export interface OidcConnectionView {
  readonly name: string;
  readonly stage: string | null;
  readonly label: string;
  readonly kind: ConnectionKind;
  readonly issuer: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly allowedTids: readonly string[];
  readonly joinClaim: string;
  readonly groupsClaim: string | null;
  readonly graphUrl: string | null;
  readonly provision: boolean;
  readonly redirectPath: string;
}

const defaultLabels: Record<ConnectionKind, string> = {
  entra: 'Microsoft',
  okta: 'Okta',
  generic: 'Single sign-on',
};

/** Entra's tokens name the user by UPN (`preferred_username`); others by a verified e-mail. */
export function defaultJoinClaim(kind: ConnectionKind): string {
  return kind === 'entra' ? 'preferred_username' : 'email';
}

export type ResolvedInput = Omit<OidcConnection, 'id' | 'tenantId' | 'secretName'>;

/** The connection an input describes, or an InputError naming the field, the value and what is accepted. */
export function resolveConnection(input: z.output<typeof addConnectionSchema>): ResolvedInput {
  const trust = issuerTrust(input.kind, input.issuer, input.allowedTids);
  const scopes = input.scopes ?? ['openid', 'email', 'profile'];
  if (!scopes.includes('openid')) {
    throw new InputError(
      `field "scopes": ${showValue(scopes.join(' '))} lacks "openid", which sign-in needs`,
      {
        field: 'scopes',
      },
    );
  }
  let graphUrl: string | null = input.graphUrl ?? null;
  if (graphUrl !== null) {
    if (input.kind !== 'entra') {
      throw new InputError(
        `field "graphUrl": only a connection of kind entra reads groups from Microsoft Graph`,
        {
          field: 'graphUrl',
        },
      );
    }
    let url: URL | undefined;
    try {
      url = new URL(graphUrl);
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'https:' || url.pathname !== '/' || url.search || url.hash) {
      throw new InputError(
        `field "graphUrl": ${showValue(graphUrl)} is not accepted; give the Graph origin, e.g. https://graph.microsoft.com (sovereign clouds: their own)`,
        { field: 'graphUrl' },
      );
    }
    graphUrl = url.origin;
  }
  return {
    name: input.name,
    stage: input.stage ?? null,
    label: input.label ?? defaultLabels[input.kind],
    kind: input.kind,
    issuer: input.issuer,
    trust,
    clientId: input.clientId,
    scopes,
    joinClaim: input.joinClaim ?? defaultJoinClaim(input.kind),
    groupsClaim: input.groupsClaim === undefined ? 'groups' : input.groupsClaim,
    graphUrl,
    provision: input.provision,
  };
}

export function viewOf(connection: OidcConnection): OidcConnectionView {
  const trust = connection.trust;
  return {
    name: connection.name,
    stage: connection.stage,
    label: connection.label,
    kind: connection.kind,
    issuer: connection.issuer,
    clientId: connection.clientId,
    scopes: connection.scopes,
    allowedTids: trust.kind === 'template' ? trust.allowedTids : trust.tid ? [trust.tid] : [],
    joinClaim: connection.joinClaim,
    groupsClaim: connection.groupsClaim,
    graphUrl: connection.graphUrl,
    provision: connection.provision,
    redirectPath: '/.steward/auth/callback',
  };
}
