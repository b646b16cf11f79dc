import type { Command } from 'commander';
import type { z } from 'zod';
import type { oidcConnectionViewSchema } from '../api/contracts/identity-oidc.ts';
import type { ConnectionKind } from '../identity/oidc/issuer.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';
import { refuseSecretOption, SecretReader } from './secret-input.ts';

/** `steward identity oidc add|list|remove <tenant>`: a tenant's OIDC connections, thin over the API. */
export interface IdentityOidcCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type OidcConnectionView = z.output<typeof oidcConnectionViewSchema>;

function show(connections: readonly OidcConnectionView[], json: boolean): void {
  if (json) return printJson(connections);
  printTable(
    ['name', 'kind', 'issuer', 'client id', 'allowed tids', 'join claim', 'stage'],
    connections.map((c) => [
      c.name,
      c.kind,
      c.issuer,
      c.clientId,
      c.allowedTids.join(',') || '-',
      c.joinClaim,
      c.stage ?? 'all',
    ]),
  );
}

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

/** The `--oidc` options of `steward identity set <tenant> [stage]`: one connection added with the settings. */
export function oidcSetOptions(set: Command): void {
  set
    .option('--oidc <name>', 'add an OIDC connection of this name (with --kind, --issuer, --client-id)')
    .option('--kind <kind>', 'with --oidc: entra, okta or generic')
    .option('--issuer <url>', 'with --oidc: the issuer, exactly as the IdP names it (pinned)')
    .option('--client-id <id>', "with --oidc: the app's client id at the IdP")
    .option('--client-secret-stdin', 'with --oidc: read the client secret from stdin (else asked for)')
    .option(
      '--allowed-tid <tid>',
      'with --oidc, Entra: a directory id allowed to sign in; repeat or comma-separate',
      list,
    )
    .option('--join-claim <claim>', 'with --oidc: the claim matched against userName/e-mail');
  refuseSecretOption(set, '--client-secret', 'pipe it with --client-secret-stdin, or type it when asked');
}

export interface OidcSetOptions {
  readonly oidc?: string;
  readonly kind?: string;
  readonly issuer?: string;
  readonly clientId?: string;
  readonly clientSecretStdin?: boolean;
  readonly allowedTid?: string[];
  readonly joinClaim?: string;
}

/** Adds the connection `steward identity set … --oidc` describes (for the stage, when one is given); undefined without --oidc. */
export async function setOidcFrom(
  api: ApiClient,
  tenant: string,
  stage: string | undefined,
  o: OidcSetOptions,
): Promise<OidcConnectionView | undefined> {
  if (o.oidc === undefined) {
    if (o.kind ?? o.issuer ?? o.clientId ?? o.allowedTid ?? o.joinClaim) {
      throw new Error(
        '--kind, --issuer, --client-id, --allowed-tid and --join-claim describe a connection: add --oidc <name>',
      );
    }
    return undefined;
  }
  const secrets = new SecretReader({}, o.clientSecretStdin ? '--client-secret-stdin' : undefined);
  return api.api.post('/api/v1/tenants/{tenant}/identity/oidc', {
    params: { tenant },
    body: {
      name: o.oidc,
      // The API names what it accepts, and what is missing.
      kind: o.kind as ConnectionKind,
      issuer: o.issuer as string,
      clientId: o.clientId as string,
      clientSecret: await secrets.read({ name: 'client secret', stdinFlag: '--client-secret-stdin' }),
      allowedTids: o.allowedTid ?? [],
      ...(o.joinClaim !== undefined ? { joinClaim: o.joinClaim } : {}),
      ...(stage !== undefined ? { stage } : {}),
    },
  });
}

export function identityOidcCommands(program: Command, { client, json }: IdentityOidcCliContext): void {
  // `steward identity` may already exist (identity settings); the OIDC commands join it.
  const identity =
    program.commands.find((c) => c.name() === 'identity') ??
    program.command('identity').description("a tenant's identity for its hosted app: sign-in methods");
  const oidc = identity.command('oidc').description("a tenant's OIDC connections (single sign-on)");
  const add = oidc
    .command('add <tenant>')
    .description(
      'connect an identity provider; the client secret is read from stdin or asked for, never an argument',
    )
    .requiredOption('--name <name>', 'the connection name (in the sign-in URL /.steward/auth/oidc/<name>)')
    .requiredOption('--kind <kind>', 'entra, okta or generic')
    .requiredOption('--issuer <url>', 'the issuer, exactly as the IdP names it (pinned)')
    .requiredOption('--client-id <id>', "the app's client id at the IdP")
    .option(
      '--client-secret-stdin',
      'read the client secret from stdin (else it is asked for on the terminal)',
    )
    .option(
      '--allowed-tid <tid>',
      'Entra: a directory (tenant) id allowed to sign in; repeat or comma-separate',
      list,
    )
    .option(
      '--join-claim <claim>',
      'the claim matched against userName/e-mail (default email; Entra preferred_username)',
    )
    .option('--groups-claim <claim>', 'the claim with the groups (default groups)')
    .option(
      '--graph-url <url>',
      'Entra: resolve the groups overage through this Microsoft Graph (https://graph.microsoft.com)',
    )
    .option('--scopes <scopes>', 'space-separated scopes (default "openid email profile")')
    .option('--label <text>', 'the button text on the sign-in page')
    .option('--stage <stage>', 'offer it on this stage only (default: every stage)')
    .option('--provision', 'create a user (source oidc) on a first sign-in that matches nobody');
  refuseSecretOption(add, '--client-secret', 'pipe it with --client-secret-stdin, or type it when asked');
  add.action(
    async (
      tenant: string,
      o: {
        name: string;
        kind: string;
        issuer: string;
        clientId: string;
        clientSecretStdin?: boolean;
        allowedTid?: string[];
        joinClaim?: string;
        groupsClaim?: string;
        graphUrl?: string;
        scopes?: string;
        label?: string;
        stage?: string;
        provision?: boolean;
      },
    ) => {
      const secrets = new SecretReader({}, o.clientSecretStdin ? '--client-secret-stdin' : undefined);
      const clientSecret = await secrets.read({ name: 'client secret', stdinFlag: '--client-secret-stdin' });
      const view = await client().api.post('/api/v1/tenants/{tenant}/identity/oidc', {
        params: { tenant },
        body: {
          name: o.name,
          // The API names the kinds it accepts.
          kind: o.kind as ConnectionKind,
          issuer: o.issuer,
          clientId: o.clientId,
          clientSecret,
          allowedTids: o.allowedTid ?? [],
          provision: o.provision === true,
          ...(o.joinClaim !== undefined ? { joinClaim: o.joinClaim } : {}),
          ...(o.groupsClaim !== undefined ? { groupsClaim: o.groupsClaim } : {}),
          ...(o.graphUrl !== undefined ? { graphUrl: o.graphUrl } : {}),
          ...(o.scopes !== undefined ? { scopes: o.scopes.split(/\s+/).filter(Boolean) } : {}),
          ...(o.label !== undefined ? { label: o.label } : {}),
          ...(o.stage !== undefined ? { stage: o.stage } : {}),
        },
      });
      if (json()) return printJson(view);
      show([view], false);
      process.stdout.write(`redirect URI to register at the IdP: https://<stage host>${view.redirectPath}\n`);
    },
  );
  oidc
    .command('list <tenant>')
    .description("the tenant's OIDC connections (no secrets)")
    .action(async (tenant: string) => {
      const connections = await client().api.all('/api/v1/tenants/{tenant}/identity/oidc', {
        params: { tenant },
      });
      show(connections, json());
    });
  oidc
    .command('remove <tenant> <name>')
    .description('remove a connection (its users keep their directory accounts)')
    .action(async (tenant: string, name: string) => {
      const result = await client().api.delete('/api/v1/tenants/{tenant}/identity/oidc/{name}', {
        params: { tenant, name },
      });
      if (json()) return printJson(result);
      process.stdout.write(`removed OIDC connection ${result.removed}\n`);
    });
}
