import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward check add|list|remove`: thin over the API, which checks every value. */
export interface CheckCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type CheckView = ResponseBody<paths, '/api/v1/tenants/{tenant}/checks'>['checks'][number];
type HttpCheck = RequestBody<paths, '/api/v1/tenants/{tenant}/stages/{stage}/checks', 'post'>;

/** `--header "Name: value"`, repeatable. */
function collectHeader(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new InvalidArgumentError(`${JSON.stringify(value)} is not "Name: value"`);
  return { ...previous, [value.slice(0, colon).trim()]: value.slice(colon + 1).trim() };
}

function statusNumber(value: string): number {
  const n = Number(value);
  // Anything else goes to the API as given, which names what it accepts.
  return Number.isInteger(n) ? n : (value as unknown as number);
}

function since(view: CheckView): string {
  return `${view.state} since ${view.since}`;
}

export function checkCommands(program: Command, { client, json }: CheckCliContext): void {
  const check = program.command('check').description("checks of tenants' stages and their states over time");
  check
    .command('add <tenant> <stage>')
    .description('add an HTTP check to a stage')
    .requiredOption('--http <path>', 'the path to request, e.g. /api/ping')
    .option('--method <method>', 'GET (default), HEAD, POST, …')
    .option('--expect-status <code>', 'the status to expect (default: any 2xx or 3xx)', statusNumber)
    .option('--expect-body <text>', 'text the body must contain')
    .option('--header <name: value>', 'a request header (repeatable)', collectHeader)
    .option('--via <route>', 'gateway (default: as users reach the stage) or processes (each web process)')
    .option('--interval <duration>', '5s to 1h (default 30s)')
    .option('--timeout <duration>', '100ms to 60s (default 5s)')
    .action(
      async (
        tenant: string,
        stage: string,
        o: {
          http: string;
          method?: string;
          expectStatus?: number;
          expectBody?: string;
          header?: Record<string, string>;
          via?: string;
          interval?: string;
          timeout?: string;
        },
      ) => {
        const view = await client().api.post('/api/v1/tenants/{tenant}/stages/{stage}/checks', {
          params: { tenant, stage },
          body: {
            path: o.http,
            // The API names the field and what it accepts when --method or --via is not one of its values.
            ...(o.method !== undefined ? { method: o.method.toUpperCase() as HttpCheck['method'] } : {}),
            ...(o.expectStatus !== undefined ? { expectStatus: o.expectStatus } : {}),
            ...(o.expectBody !== undefined ? { expectBody: o.expectBody } : {}),
            ...(o.header !== undefined ? { headers: o.header } : {}),
            ...(o.via !== undefined ? { via: o.via as HttpCheck['via'] } : {}),
            ...(o.interval !== undefined ? { interval: o.interval } : {}),
            ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
          },
        });
        if (json()) return printJson(view);
        process.stdout.write(
          `check ${view.id} added to ${tenant}/${stage}: ${view.target} every ${view.intervalSeconds}s\n`,
        );
      },
    );
  check
    .command('list <tenant>')
    .description('every check of every stage: kind, target, interval, state, last result, since')
    .option('--stage <stage>', 'one stage only')
    .action(async (tenant: string, o: { stage?: string }) => {
      const api = client().api;
      const checks =
        o.stage === undefined
          ? await api.all('/api/v1/tenants/{tenant}/checks', { params: { tenant } })
          : await api.all('/api/v1/tenants/{tenant}/stages/{stage}/checks', {
              params: { tenant, stage: o.stage },
            });
      if (json()) return printJson(checks);
      printTable(
        ['id', 'stage', 'kind', 'origin', 'target', 'interval', 'state', 'last result'],
        checks.map((c) => [
          c.id,
          c.stage,
          c.kind,
          c.builtin ?? c.origin,
          c.target,
          `${c.intervalSeconds}s`,
          since(c),
          c.lastResult ? `${c.lastResult.outcome}: ${c.lastResult.detail}` : '-',
        ]),
      );
    });
  check
    .command('remove <tenant> <id>')
    .description("remove an operator's check; its recorded states stay until retention")
    .action(async (tenant: string, id: string) => {
      const result = await client().api.delete('/api/v1/tenants/{tenant}/checks/{id}', {
        params: { tenant, id },
      });
      if (json()) return printJson(result);
      process.stdout.write(`check ${result.id} removed\n`);
    });
}
