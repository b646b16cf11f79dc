import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import type { paths } from '../api/client/schema.ts';
import type { ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/**
 * The gateway commands: `route list`, `cert set|list|remove`, `domain
 * add|remove`, and the gateway's half of `stage set` (--allow-from,
 * --maintenance). Thin over the API.
 */
export interface GatewayCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type StageAccess = ResponseBody<paths, '/api/v1/tenants/{tenant}/stages/{stage}/gateway'>;

/**
 * `--allow-from`: CIDRs separated by commas, or "any" (everyone; the API gets null).
 * Commander turns a parser's null into '', hence the marker. The API checks each CIDR.
 */
export function parseAllowFrom(value: string): string[] | 'any' {
  const trimmed = value.trim();
  if (trimmed.toLowerCase() === 'any') return 'any';
  const entries = trimmed
    .split(/[\s,]+/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) {
    throw new InvalidArgumentError('give CIDRs such as 10.0.0.0/8,192.0.2.7, or "any" to let everyone in');
  }
  return entries;
}

export function parseOnOff(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new InvalidArgumentError(`${JSON.stringify(value)} is neither on nor off`);
}

/** The settings `stage set` sends to the gateway route, or undefined when it has none of them. */
export function stageAccessBody(o: {
  allowFrom?: string[] | 'any';
  maintenance?: boolean;
}): { allowFrom?: string[] | null; maintenance?: boolean } | undefined {
  if (o.allowFrom === undefined && o.maintenance === undefined) return undefined;
  return {
    ...(o.allowFrom !== undefined ? { allowFrom: o.allowFrom === 'any' ? null : o.allowFrom } : {}),
    ...(o.maintenance !== undefined ? { maintenance: o.maintenance } : {}),
  };
}

export async function setStageAccess(
  client: ApiClient,
  tenant: string,
  stage: string,
  body: { allowFrom?: string[] | null; maintenance?: boolean },
): Promise<StageAccess> {
  return client.api.patch('/api/v1/tenants/{tenant}/stages/{stage}/gateway', {
    params: { tenant, stage },
    body,
  });
}

export function describeStageAccess(view: StageAccess): string {
  return (
    `${view.tenant}/${view.stage}: ` +
    `${view.allowFrom === null ? 'open to any address' : `allowed from ${view.allowFrom.join(', ')}`}, ` +
    `maintenance ${view.maintenance ? 'on' : 'off'}`
  );
}

export function gatewayCommands(program: Command, cli: GatewayCliContext): void {
  const { client, json } = cli;

  const route = program.command('route').description("the gateway's routes: host to tenant and stage");
  route
    .command('list')
    .description('every host the gateways serve, with its tenant, stage, published port and flags')
    .action(async () => {
      const api = client().api;
      // Every page of routes; the base domain is on each.
      const [{ baseDomain }, routes] = await Promise.all([
        api.get('/api/v1/routes'),
        api.all('/api/v1/routes'),
      ]);
      if (json()) return printJson({ baseDomain, routes });
      printTable(
        ['host', 'tenant', 'stage', 'port', 'kind', 'allow from', 'maintenance'],
        routes.map((r) => [
          r.host,
          r.tenant,
          r.stage,
          r.port,
          r.kind,
          r.allowFrom === null ? 'any' : r.allowFrom.join(','),
          r.maintenance ? 'on' : 'off',
        ]),
      );
    });

  const cert = program
    .command('cert')
    .description("operators' TLS certificates for the gateway (other hosts get Steward's CA)");
  cert
    .command('set <domain>')
    .description('install or replace the certificate and key for a domain or a wildcard (*.example.com)')
    .requiredOption('--cert <file>', 'PEM certificate, followed by its intermediates')
    .requiredOption('--key <file>', 'PEM private key (kept sealed in the secrets store)')
    .action(async (domain: string, o: { cert: string; key: string }) => {
      const body = { cert: await readFile(o.cert, 'utf8'), key: await readFile(o.key, 'utf8') };
      const view = await client().api.put('/api/v1/certificates/{domain}', { params: { domain }, body });
      if (json()) return printJson(view);
      process.stdout.write(
        `certificate for ${view.domain} installed (${view.names.join(', ')}; valid until ${view.notAfter})\n`,
      );
    });
  cert
    .command('list')
    .description('installed certificates and when they expire')
    .action(async () => {
      const certificates = await client().api.all('/api/v1/certificates');
      if (json()) return printJson(certificates);
      printTable(
        ['domain', 'names', 'not after', 'updated'],
        certificates.map((c) => [c.domain, c.names.join(','), c.notAfter, c.updatedAt]),
      );
    });
  cert
    .command('remove <domain>')
    .description('remove an installed certificate')
    .action(async (domain: string) => {
      await client().api.delete('/api/v1/certificates/{domain}', { params: { domain } });
      if (json()) return printJson({ removed: domain });
      process.stdout.write(`certificate for ${domain} removed\n`);
    });

  const domain = program.command('domain').description("a stage's custom domains");
  domain
    .command('add <tenant> <stage> <domain>')
    .description('serve a stage at a domain of its own as well')
    .action(async (tenant: string, stage: string, name: string) => {
      const view = await client().api.put('/api/v1/tenants/{tenant}/stages/{stage}/domains/{domain}', {
        params: { tenant, stage, domain: name },
      });
      if (json()) return printJson(view);
      process.stdout.write(`${tenant}/${stage}: domains ${view.domains.join(', ')}\n`);
    });
  domain
    .command('remove <tenant> <stage> <domain>')
    .description('stop serving a stage at a custom domain')
    .action(async (tenant: string, stage: string, name: string) => {
      const view = await client().api.delete('/api/v1/tenants/{tenant}/stages/{stage}/domains/{domain}', {
        params: { tenant, stage, domain: name },
      });
      if (json()) return printJson(view);
      process.stdout.write(`${tenant}/${stage}: domains ${view.domains.join(', ') || 'none'}\n`);
    });
}
