import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import {
  describeStageAccess,
  parseAllowFrom,
  parseOnOff,
  setStageAccess,
  stageAccessBody,
} from './gateway-commands.ts';
import { formatBytes, printJson, printTable } from './output.ts';

/**
 * The runtime commands: deploy, promote, rollback, deployments, ps, logs and
 * `stage set`. Thin over the API, like the rest of the CLI.
 */
export interface RuntimeCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
  /** The `stage` command, which gets `set`. */
  readonly stage: Command;
}

type Deployment = ResponseBody<paths, '/api/v1/deployments/{id}'>;
type StageProcess = ResponseBody<paths, '/api/v1/tenants/{tenant}/ps'>['stages'][number]['processes'][number];
/** One line of the logs stream (NDJSON). */
interface LogLine {
  readonly process: string;
  readonly instance: number;
  readonly line: string;
}

const enc = encodeURIComponent;
const finalStatuses: readonly string[] = ['active', 'failed', 'superseded', 'rolled-back'];

/** "90", "90s", "10m", "2h", "1d": seconds. */
function durationSeconds(value: string): number | undefined {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** `--since`: an ISO time, or a duration back from now ("10m", "2h"); the API gets an ISO time. */
export function parseSince(value: string, now = Date.now()): string {
  if (/^\d+\s*[smhd]$/.test(value.trim())) {
    return new Date(now - (durationSeconds(value) ?? 0) * 1000).toISOString();
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is neither an ISO time (2026-11-23T10:00:00Z) nor a duration back from now (30s, 10m, 2h, 1d)`,
    );
  }
  return new Date(at).toISOString();
}

const byteUnits: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * `--files-quota`: bytes, "10MB" (powers of 1000), "1GiB" (powers of 1024),
 * or "off". (Not null for off: commander takes a null from a parser for a missing value.)
 */
export function parseQuota(value: string): number | 'off' {
  if (value.trim().toLowerCase() === 'off') return 'off';
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = byteUnits[(match?.[2] || 'b').toLowerCase()];
  if (!match || unit === undefined) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a size: write bytes, 10MB, 1GB (powers of 1000), 512MiB, 1GiB (powers of 1024), or off`,
    );
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (bytes < 1) throw new InvalidArgumentError('the files quota must be at least 1 byte, or off');
  return bytes;
}

/** `--scale-to-zero`: idle seconds ("600", "10m") or "off". */
export function parseScaleToZero(value: string): number | 'off' {
  if (value.trim().toLowerCase() === 'off') return 'off';
  const seconds = durationSeconds(value);
  if (seconds === undefined) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a duration: write seconds (600), 10m, 2h, or off`,
    );
  }
  return seconds;
}

function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`${JSON.stringify(value)}: give a whole number from 1 to ${max}`);
    }
    return n;
  };
}

export function formatUptime(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  if (seconds < 86_400) {
    return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  }
  return `${Math.floor(seconds / 86_400)}d${String(Math.floor((seconds % 86_400) / 3600)).padStart(2, '0')}h`;
}

function describe(d: Deployment): string {
  return `${d.app} ${d.version} to ${d.tenant}/${d.stage} (deployment ${d.id})`;
}

export function runtimeCommands(program: Command, cli: RuntimeCliContext): void {
  const { client, json } = cli;
  const say = (line: string): void => {
    if (!json()) process.stderr.write(`${line}\n`);
  };

  /** Follows a deployment until it is active or failed, one progress line per status. */
  async function follow(started: Deployment, timeoutSeconds: number): Promise<void> {
    const api = client();
    const began = Date.now();
    const deadline = began + timeoutSeconds * 1000;
    say(`deploying ${describe(started)}`);
    let shown = '';
    let current = started;
    for (;;) {
      if (current.status !== shown && !finalStatuses.includes(current.status)) {
        shown = current.status;
        say(`  ${current.status}`);
      }
      if (finalStatuses.includes(current.status)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${describe(current)} is still ${current.status} after ${timeoutSeconds} s; it goes on in the background ("steward deployments ${current.tenant}" shows it)`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
      current = await api.api.get('/api/v1/deployments/{id}', { params: { id: current.id } });
    }
    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    if (current.status !== 'active') {
      say(`  ${current.status}`);
      const message = `${describe(current)} ${current.status}: ${current.reason || 'no reason recorded'}`;
      if (!json()) throw new Error(message);
      printJson(current);
      process.stderr.write(`error: ${message}\n`);
      process.exitCode = 1;
      return;
    }
    say(`  active: ${current.reason} (${seconds} s)`);
    if (json()) return printJson(current);
    const { stages } = await api.api.get('/api/v1/tenants/{tenant}/ps', {
      params: { tenant: current.tenant },
    });
    const url = stages.find((s) => s.stage === current.stage)?.url;
    process.stdout.write(
      `${current.tenant}/${current.stage} runs ${current.app} ${current.version}${url ? ` at ${url}` : ''}\n`,
    );
  }

  async function started(deployment: Deployment, o: { wait: boolean; timeout: number }): Promise<void> {
    if (o.wait) return follow(deployment, o.timeout);
    if (json()) return printJson(deployment);
    process.stdout.write(
      `${describe(deployment)}: ${deployment.status}; "steward deployments ${deployment.tenant}" shows how it goes\n`,
    );
  }

  const timeoutOption = (command: Command): Command =>
    command
      .option('--no-wait', 'return once the deployment is accepted')
      .option('--timeout <seconds>', 'how long to wait for the deployment', positiveInt(86_400), 900);

  timeoutOption(
    program
      .command('deploy <tenant> <stage> <version>')
      .description(
        'deploy a release to a stage: migrate its database, start the new processes, wait for health, hand over, drain the old ones; exits non-zero when it fails, and the old release keeps serving',
      )
      .option('--app <app>', 'the app, when several apps have this version'),
  ).action(
    async (
      tenant: string,
      stage: string,
      version: string,
      o: { app?: string; wait: boolean; timeout: number },
    ) => {
      const deployment = await client().api.post('/api/v1/tenants/{tenant}/stages/{stage}/deployments', {
        params: { tenant, stage },
        body: { version, ...(o.app ? { app: o.app } : {}) },
      });
      await started(deployment, o);
    },
  );

  timeoutOption(
    program
      .command('promote <tenant>')
      .description('deploy the release that runs in one stage to another (dev to test, test to prod)')
      .requiredOption('--from <stage>', 'the stage whose release is promoted')
      .requiredOption('--to <stage>', 'the stage that gets it'),
  ).action(async (tenant: string, o: { from: string; to: string; wait: boolean; timeout: number }) => {
    const deployment = await client().api.post('/api/v1/tenants/{tenant}/promote', {
      params: { tenant },
      body: { from: o.from, to: o.to },
    });
    await started(deployment, o);
  });

  timeoutOption(
    program
      .command('rollback <tenant> <stage>')
      .description('return a stage to the release it ran before the current one')
      .option('--to <version>', 'an earlier release the stage ran, instead of the one just before'),
  ).action(async (tenant: string, stage: string, o: { to?: string; wait: boolean; timeout: number }) => {
    const deployment = await client().api.post('/api/v1/tenants/{tenant}/stages/{stage}/rollback', {
      params: { tenant, stage },
      body: o.to === undefined ? {} : { to: o.to },
    });
    await started(deployment, o);
  });

  program
    .command('deployments <tenant>')
    .description("a tenant's deployments, newest first")
    .option('--stage <stage>', 'only this stage')
    .action(async (tenant: string, o: { stage?: string }) => {
      const deployments = await client().api.all('/api/v1/tenants/{tenant}/deployments', {
        params: { tenant },
      });
      const shown = o.stage ? deployments.filter((d) => d.stage === o.stage) : deployments;
      if (json()) return printJson(shown);
      printTable(
        ['id', 'stage', 'app', 'version', 'status', 'actor', 'created', 'finished', 'reason'],
        shown.map((d) => [
          d.id,
          d.stage,
          d.app,
          d.version,
          d.status,
          d.actor,
          d.createdAt,
          d.finishedAt,
          d.reason.split('\n')[0],
        ]),
      );
    });

  program
    .command('ps <tenant>')
    .description(
      "the processes of a tenant's stages: pids, phase, health, restarts, uptime; each stage's URL and files",
    )
    .option('--stage <stage>', 'only this stage')
    .action(async (tenant: string, o: { stage?: string }) => {
      const { stages } = await client().api.get('/api/v1/tenants/{tenant}/ps', { params: { tenant } });
      const shown = o.stage ? stages.filter((s) => s.stage === o.stage) : stages;
      if (o.stage && shown.length === 0) throw new Error(`tenant ${tenant} has no stage ${o.stage}`);
      if (json()) return printJson(shown);
      shown.forEach((s, i) => {
        const files = s.filesBytes === null ? 'not measured yet' : formatBytes(s.filesBytes);
        const quota = s.filesQuotaBytes === null ? 'no quota' : `quota ${formatBytes(s.filesQuotaBytes)}`;
        process.stdout.write(
          `${i > 0 ? '\n' : ''}stage ${s.stage}: ${s.phase}${s.reason ? ` (${s.reason})` : ''}\n` +
            `  release ${s.release ?? '-'}\n  url     ${s.url ?? '-'}\n  files   ${files}, ${quota}\n\n`,
        );
        if (s.processes.length === 0) return void process.stdout.write('no processes\n');
        printTable(
          ['process', 'instance', 'release', 'pid', 'phase', 'healthy', 'restarts', 'uptime', 'port'],
          s.processes.map((p: StageProcess) => [
            p.process,
            p.instance,
            p.release,
            p.pid,
            p.phase,
            p.healthy === null ? '-' : p.healthy ? 'yes' : 'no',
            p.restarts,
            formatUptime(p.uptimeSeconds),
            p.port,
          ]),
        );
      });
    });

  program
    .command('logs <tenant> <stage>')
    .description(
      "a stage's process logs, as `web.0 | line` (-o json: the NDJSON objects {process, instance, line}). " +
        'With --since, only lines that carry a time of their own at or after it: a JSON line with a `time` or `ts` field ' +
        '(ISO text, or epoch milliseconds or seconds), or a line that starts with an ISO time; lines without one are shown only without --since',
    )
    .option('--process <name>', 'only this process type (web, worker, ...)')
    .option('-n, --lines <n>', 'the last N lines of each process instance', positiveInt(10_000), 100)
    .option(
      '--since <time>',
      'an ISO time (2026-11-23T10:00:00Z) or a duration back from now (30s, 10m, 2h, 1d)',
      (v) => parseSince(v),
    )
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .action(
      async (
        tenant: string,
        stage: string,
        o: { process?: string; lines: number; since?: string; follow?: boolean },
      ) => {
        const query = new URLSearchParams({ lines: String(o.lines), follow: o.follow ? 'true' : 'false' });
        if (o.process) query.set('process', o.process);
        if (o.since) query.set('since', o.since);
        const abort = new AbortController();
        const stop = (): void => abort.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await client().streamLines<LogLine>(
            `/api/v1/tenants/${enc(tenant)}/stages/${enc(stage)}/logs?${query.toString()}`,
            (l) =>
              process.stdout.write(
                json() ? `${JSON.stringify(l)}\n` : `${l.process}.${l.instance} | ${l.line}\n`,
              ),
            abort.signal,
          );
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      },
    );

  cli.stage
    .command('set <tenant> <stage>')
    .description(
      "a stage's settings: scale to zero when idle, files quota, who may reach it through the gateway, maintenance page",
    )
    .option(
      '--scale-to-zero <seconds|off>',
      'stop the processes after this long without a request (600, 10m; at least 10 s); the next request starts them again',
      parseScaleToZero,
    )
    .option(
      '--files-quota <size|off>',
      'the most the files directory may hold: bytes, 10MB, 1GB (powers of 1000), 512MiB (powers of 1024), or off',
      parseQuota,
    )
    .option(
      '--allow-from <cidrs|any>',
      'only these client networks reach the stage through the gateway (10.0.0.0/8,192.0.2.7), or any',
      parseAllowFrom,
    )
    .option('--maintenance <on|off>', 'show the maintenance page (503) instead of the app', parseOnOff)
    .action(
      async (
        tenant: string,
        stage: string,
        o: {
          scaleToZero?: number | 'off';
          filesQuota?: number | 'off';
          allowFrom?: string[] | 'any';
          maintenance?: boolean;
        },
      ) => {
        const access = stageAccessBody(o);
        if (o.scaleToZero === undefined && o.filesQuota === undefined) {
          if (!access) {
            throw new Error(
              'nothing to set: give --scale-to-zero, --files-quota, --allow-from and/or --maintenance',
            );
          }
          const accessView = await setStageAccess(client(), tenant, stage, access);
          if (json()) return printJson(accessView);
          process.stdout.write(`${describeStageAccess(accessView)}\n`);
          return;
        }
        const accessView = access ? await setStageAccess(client(), tenant, stage, access) : undefined;
        const scaleToZeroSeconds = o.scaleToZero === 'off' ? null : o.scaleToZero;
        const filesQuotaBytes = o.filesQuota === 'off' ? null : o.filesQuota;
        const view = await client().api.patch('/api/v1/tenants/{tenant}/stages/{stage}/runtime', {
          params: { tenant, stage },
          body: {
            ...(scaleToZeroSeconds !== undefined ? { scaleToZeroSeconds } : {}),
            ...(filesQuotaBytes !== undefined ? { filesQuotaBytes } : {}),
          },
        });
        if (json()) return printJson(accessView ? { ...view, gateway: accessView } : view);
        if (accessView) process.stdout.write(`${describeStageAccess(accessView)}\n`);
        const changes = [
          ...(scaleToZeroSeconds === undefined
            ? []
            : [
                scaleToZeroSeconds === null
                  ? 'no scale to zero'
                  : `scale to zero after ${scaleToZeroSeconds} s idle`,
              ]),
          ...(filesQuotaBytes === undefined
            ? []
            : [
                filesQuotaBytes === null
                  ? 'no files quota'
                  : `files quota ${filesQuotaBytes} bytes (${formatBytes(filesQuotaBytes)})`,
              ]),
        ];
        process.stdout.write(
          `${tenant}/${stage}: ${changes.join(', ')}` +
            `${view.filesBytes === null ? '' : ` (files now ${formatBytes(view.filesBytes)})`}\n`,
        );
      },
    );
}
