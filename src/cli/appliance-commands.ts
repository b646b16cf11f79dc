import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { apiUrl, initApplianceSecrets, runNodeLossDrill } from '../appliance/index.ts';
import { parseConfig } from '../core/config.ts';
import { ApiClient, resolveConnection } from './client.ts';
import { printJson } from './output.ts';

/**
 * `steward appliance init` (the files every node shares, made on one node)
 * and `steward drill node-loss` (kill this node whole, measure from the
 * others, record the result on one of them). Both work on the data dir of
 * the node they run on.
 */
export interface ApplianceCliContext {
  readonly json: () => boolean;
  readonly dataDir: () => string;
}

export function applianceCommands(program: Command, { json, dataDir }: ApplianceCliContext): void {
  const appliance = program
    .command('appliance')
    .description('Steward on three nodes: the control database on Patroni, every node serving');
  appliance
    .command('init')
    .description("make the files every node shares (passwords, master key, CA) in this node's data dir")
    .action(async () => {
      const dir = resolve(dataDir());
      const files = await initApplianceSecrets(dir);
      if (json()) return printJson({ dataDir: dir, files });
      process.stdout.write(
        `made in ${dir}: ${files.join(', ')}\n` +
          `copy them (mode 0600) into every other node's data dir, put the same appliance: block in each\n` +
          `node's steward.yaml with its own appliance.node, then run "steward up" on every node.\n`,
      );
    });

  const drill = program.commands.find((c) => c.name() === 'drill') ?? program.command('drill');
  drill
    .command('node-loss')
    .description(
      'SIGKILL every process of this node (Steward, etcd, Patroni, PostgreSQL, routers, HAProxy, stages); measure from the other nodes and record the result there',
    )
    .option('--yes', 'this node dies: confirm')
    .option('--timeout <seconds>', 'how long to wait for each recovery (default 180)', (v) => Number(v))
    .action(async (o: { yes?: boolean; timeout?: number }) => {
      const dir = resolve(dataDir());
      const file = join(dir, 'steward.yaml');
      if (!existsSync(file)) throw new Error(`${file} does not exist: run this on a node of the appliance`);
      const config = parseConfig({ ...(parseYaml(await readFile(file, 'utf8')) as object), dataDir: dir });
      if (!config.appliance) throw new Error(`${file} has no appliance: block; this node is not part of one`);
      if (!o.yes)
        throw new Error(`this kills node ${config.appliance.node} and everything it runs: pass --yes`);
      const local = resolveConnection({ dataDir: dir });
      if (!local.ca || !local.token) throw new Error(`${join(dir, 'client.json')} has no CA or token`);
      const say = (message: string): void => void process.stderr.write(`${message}\n`);
      const measured = await runNodeLossDrill({
        appliance: config.appliance,
        victim: { name: config.appliance.node, dataDir: dir },
        ca: local.ca,
        token: local.token,
        baseDomain: config.gateway.baseDomain,
        ...(o.timeout ? { timeoutMs: o.timeout * 1000 } : {}),
        progress: say,
      });
      const survivor = config.appliance.nodes.find((n) => n.name !== config.appliance?.node);
      if (!survivor) throw new Error('the appliance has no other node');
      const api = new ApiClient({ apiUrl: apiUrl(survivor), ca: local.ca, token: local.token });
      const view = await api.api.post('/api/v1/drills/node-loss', { body: measured });
      if (json()) printJson(view);
      else
        process.stdout.write(`drill ${view.id} (node-loss): ${view.outcome.toUpperCase()}: ${view.reason}\n`);
      if (view.outcome !== 'passed') process.exitCode = 1;
    });
}
