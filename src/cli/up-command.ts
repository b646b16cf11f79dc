import { Option, type Command } from 'commander';
import { join } from 'node:path';
import type { Environment } from '../core/env.ts';
import { describeIsolation, type IsolationReport } from '../runtime/sandbox/index.ts';
import { printJson } from './output.ts';

export interface UpCliContext {
  readonly json: () => boolean;
  /** --data-dir, when given (or STEWARD_DATA_DIR). */
  readonly dataDir: () => string | undefined;
  readonly env: Environment;
}

/** steward up: Steward on this machine, in the foreground until SIGINT or SIGTERM. */
export function upCommand(program: Command, cli: UpCliContext): void {
  program
    .command('up')
    .description('run Steward on this machine: its own PostgreSQL, the API and the workers')
    .option('--api-port <port>', 'API port', (v) => Number(v))
    .option('--api-host <host>', 'API listen address')
    .option('--demo', 'on the first start, run the sample app for tenant "demo" in dev, test and prod')
    .option('--gateway-port <port>', 'gateway HTTPS port (default 8443, or a free one if taken)', (v) =>
      Number(v),
    )
    .option('--gateway-http-port <port>', 'gateway redirect-only HTTP port (0: none)', (v) => Number(v))
    .addOption(
      new Option('--role <role>', 'all: everything; gateway: only the gateway, on the same control database')
        .choices(['all', 'gateway'])
        .default('all'),
    )
    .action(
      async (options: {
        apiPort?: number;
        apiHost?: string;
        demo?: boolean;
        gatewayPort?: number;
        gatewayHttpPort?: number;
        role: 'all' | 'gateway';
      }) => {
        const { up } = await import('../up.ts');
        const dataDir = cli.dataDir() ?? '.steward';
        const say = (message: string): void => {
          if (!cli.json()) process.stderr.write(`${message}\n`);
        };
        const overrides: Record<string, unknown> = {};
        if (options.apiPort !== undefined || options.apiHost !== undefined) {
          overrides.api = {
            ...(options.apiPort !== undefined ? { port: options.apiPort } : {}),
            ...(options.apiHost ? { host: options.apiHost } : {}),
          };
        }
        if (options.gatewayPort !== undefined || options.gatewayHttpPort !== undefined) {
          overrides.gateway = {
            ...(options.gatewayPort !== undefined ? { port: options.gatewayPort } : {}),
            ...(options.gatewayHttpPort !== undefined ? { httpPort: options.gatewayHttpPort } : {}),
          };
        }
        const running = await up({
          dataDir,
          env: cli.env,
          overrides,
          progress: say,
          demo: options.demo === true,
          role: options.role,
        });
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) return;
          stopping = true;
          say(`${signal}: stopping`);
          const deadline = setTimeout(() => process.exit(1), 30_000);
          deadline.unref();
          void running.stop().then(() => process.exit(0));
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
        if (options.role === 'gateway') {
          if (cli.json())
            printJson({ gatewayUrl: running.gatewayUrl ?? null, consoleUrl: running.consoleUrl ?? null });
          else
            process.stdout.write(
              `Steward gateway is running.\n  Gateway:     ${running.gatewayUrl ?? '-'}\n` +
                (running.consoleUrl ? `  Console:     ${running.consoleUrl} (to a live API node)\n` : ''),
            );
          return;
        }
        if (cli.json()) {
          printJson({
            apiUrl: running.apiUrl,
            gatewayUrl: running.gatewayUrl ?? null,
            consoleUrl: running.consoleUrl ?? null,
            clientFile: running.clientFile,
            firstOwner: running.firstOwner ?? null,
            demo: running.demo ?? null,
            isolation: running.steward.services.isolation,
          });
        } else {
          process.stdout.write(
            `Steward is running.\n  API:         ${running.apiUrl}\n` +
              (running.gatewayUrl
                ? `  Gateway:     ${running.gatewayUrl} (a stage: https://<stage>.<tenant>.${running.config.gateway.baseDomain}:${new URL(running.gatewayUrl).port || 443})\n`
                : '') +
              (running.consoleUrl ? `  Console:     ${running.consoleUrl}\n` : '') +
              `  CLI config:  ${running.clientFile}\n` +
              isolationLine(running.steward.services.isolation),
          );
          if (running.firstOwner) {
            process.stdout.write(
              `  First owner: ${running.firstOwner.username}, one-time password ${running.firstOwner.password}\n` +
                `               (change it at first login: steward login --username admin)\n`,
            );
          }
          if (running.demo) {
            process.stdout.write(
              `  Demo tenant: ${running.demo.tenant}, the sample app ${running.demo.release}\n`,
            );
            for (const [stage, url] of Object.entries(running.demo.urls)) {
              const through = running.gatewayUrl
                ? stageUrl(running.gatewayUrl, running.demo.tenant, stage)
                : url;
              process.stdout.write(
                `               ${stage.padEnd(5)} ${through}${through === url ? '' : `  (direct: ${url})`}\n`,
              );
            }
            if (running.gatewayUrl) {
              process.stdout.write(`               (trust ${join(dataDir, 'ca.pem')}: curl --cacert)\n`);
            }
          }
          process.stdout.write('Press Ctrl-C to stop.\n');
        }
      },
    );
}

/** A stage's address through the gateway: https://<stage>.<tenant>.<base-domain>:<port>. */
function stageUrl(gatewayUrl: string, tenant: string, stage: string): string {
  const url = new URL(gatewayUrl);
  url.hostname = `${stage}.${tenant}.${url.hostname}`;
  return url.origin;
}

/** The summary's isolation line, aligned with the others; a reduced one keeps its whole warning. */
function isolationLine(report: IsolationReport): string {
  const text = describeIsolation(report);
  return report.level === 'full'
    ? `  Isolation:   ${text.replace(/^isolation: /, '')}\n`
    : `  ${text.replaceAll('\n', '\n  ')}\n`;
}
