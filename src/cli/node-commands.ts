import type { Command } from 'commander';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward node list`: the Steward nodes on this control database. Thin over the API. */
export interface NodeCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

export function nodeCommands(program: Command, { client, json }: NodeCliContext): void {
  const node = program.command('node').description('the Steward nodes that share this control database');
  node
    .command('list')
    .description('nodes: API URL, started, heartbeat age, health (live, late, gone), leases held')
    .action(async () => {
      const { nodes } = await client().api.get('/api/v1/nodes');
      if (json()) return printJson(nodes);
      const withRoles = nodes.some((n) => n.controlDatabaseRole !== undefined);
      printTable(
        ['name', 'api', 'started', 'heartbeat', 'health', 'leases', ...(withRoles ? ['control db'] : [])],
        nodes.map((n) => [
          n.name,
          n.apiUrl ?? '-',
          n.startedAt,
          `${n.heartbeatAgeSeconds.toFixed(1)} s ago`,
          n.health,
          n.leases.length > 0 ? n.leases.join(',') : '-',
          ...(withRoles ? [n.controlDatabaseRole ?? '-'] : []),
        ]),
      );
    });
}
