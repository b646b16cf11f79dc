import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Environment } from '../core/env.ts';
import { ApiClient, ApiError, resolveConnection } from './client.ts';
import type { OutputFormat } from './output.ts';
import { refuseSecretOption } from './secret-input.ts';

/** The options every command takes, before its own. */
export interface GlobalOptions {
  output: OutputFormat;
  dataDir?: string;
  apiUrl?: string;
  sessionFile: string;
}

/** The steward program with its global options, and what its commands are handed to reach the API. */
export interface StewardCli {
  readonly program: Command;
  readonly globals: () => GlobalOptions;
  readonly json: () => boolean;
  readonly client: () => ApiClient;
  /** The secrets the CLI reads from the environment, by variable name. */
  readonly secretEnv: Readonly<Record<string, string | undefined>>;
  /** Prints an error (JSON too with -o json) and exits non-zero. */
  readonly fail: (error: unknown) => never;
}

export function stewardProgram(env: Environment): StewardCli {
  const program = new Command('steward')
    .description('Steward: run your application for many customers, each in an isolated ecosystem')
    .addOption(
      new Option('-o, --output <format>', 'output format (html and pdf: sla report)')
        .choices(['table', 'json', 'html', 'pdf'])
        .default('table'),
    )
    .option('--data-dir <dir>', 'Steward data directory (client.json lives here)', env.dataDir)
    .option('--api-url <url>', 'API URL (default: from client.json)', env.apiUrl)
    .option(
      '--session-file <file>',
      'where "steward login" keeps its token',
      join(homedir(), '.config', 'steward', 'session.json'),
    )
    .showHelpAfterError();
  refuseSecretOption(
    program,
    '--token',
    'set STEWARD_TOKEN for a token, or sign in with "steward login" (the session file) or use client.json',
  );
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const json = (): boolean => globals().output === 'json';
  const client = (): ApiClient => {
    const g = globals();
    return new ApiClient(
      resolveConnection({
        apiUrl: g.apiUrl,
        token: env.token,
        dataDir: g.dataDir,
        sessionFile: g.sessionFile,
      }),
    );
  };
  const fail = (error: unknown): never => {
    if (error instanceof ApiError) {
      if (json()) process.stdout.write(`${JSON.stringify({ error: error.body }, null, 2)}\n`);
      process.stderr.write(
        `error: ${error.body.message}${error.body.field ? ` (field: ${error.body.field})` : ''}\n`,
      );
    } else {
      const message = error instanceof Error ? error.message : String(error);
      if (json()) process.stdout.write(`${JSON.stringify({ error: { code: 'cli', message } }, null, 2)}\n`);
      process.stderr.write(`error: ${message}\n`);
    }
    process.exit(1);
  };
  return {
    program,
    globals,
    json,
    client,
    secretEnv: { STEWARD_PASSWORD: env.password, STEWARD_NEW_PASSWORD: env.newPassword },
    fail,
  };
}
