import type { Command } from 'commander';
import type { ApiClient } from './client.ts';
import { printJson } from './output.ts';

/** `steward status link <tenant> [--rotate] [--stages prod,test]`: thin over the API. */
export interface StatusCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

export function statusCommands(program: Command, { client, json }: StatusCliContext): void {
  const status = program.command('status').description('the public status page');
  status
    .command('link <tenant>')
    .description(
      "a tenant's private status-page link; the URL is shown when made or rotated (only a hash is kept)",
    )
    .option('--rotate', 'a new token: the old link stops working')
    .option('--stages <stages>', 'comma-separated stages the page shows, e.g. prod,test (default prod)')
    .action(async (tenant: string, o: { rotate?: boolean; stages?: string }) => {
      const view = await client().api.post('/api/v1/tenants/{tenant}/status/link', {
        params: { tenant },
        body: {
          rotate: o.rotate === true,
          ...(o.stages !== undefined ? { stages: o.stages.split(',').map((s) => s.trim()) } : {}),
        },
      });
      if (json()) return printJson(view);
      console.log(
        view.url
          ? `status page of ${view.tenant}: ${view.url}`
          : `${view.tenant} has a status link (made or rotated ${view.rotatedAt}); --rotate makes a new URL`,
      );
      console.log(`stages shown: ${view.stages.join(', ')}`);
    });
}
