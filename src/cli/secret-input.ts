import type { Command } from 'commander';
import { ask, readStdin } from './prompt.ts';

/**
 * Secrets (passwords, tokens, recovery codes) never come from the command
 * line: every user of the machine can read a process's arguments (ps,
 * /proc/<pid>/cmdline) and the shell keeps them in its history. A secret is
 * read from its environment variable, else from stdin (one per line, in the
 * order the command names them) when the command was told to, else from a
 * prompt on the terminal that does not echo.
 */
export interface SecretSpec {
  /** What it is, for the prompt and errors: "password". */
  readonly name: string;
  /** The environment variable that may carry it. */
  readonly env?: string | undefined;
  /** Ask twice on a terminal (a new password). */
  readonly confirm?: boolean;
  /** The command's flag that reads it from stdin, for the error without a terminal (default --password-stdin). */
  readonly stdinFlag?: string;
}

export class SecretReader {
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #stdinFlag: string | undefined;
  #lines: Promise<string[]> | undefined;

  /** `stdinFlag`: the flag that was given to read secrets from stdin (e.g. "--password-stdin"), if any. */
  constructor(env: Readonly<Record<string, string | undefined>>, stdinFlag: string | undefined) {
    this.#env = env;
    this.#stdinFlag = stdinFlag;
  }

  async read(spec: SecretSpec): Promise<string> {
    const fromEnv = spec.env ? this.#env[spec.env] : undefined;
    if (fromEnv) return fromEnv;
    if (this.#stdinFlag) {
      this.#lines ??= readStdin().then((text) => text.split(/\r?\n/));
      const line = (await this.#lines).shift();
      if (line === undefined || line === '') {
        throw new Error(`${this.#stdinFlag}: stdin ended before the ${spec.name}; give one per line`);
      }
      return line;
    }
    const sources = [
      spec.env ? `set ${spec.env}` : undefined,
      `pipe it to stdin with ${spec.stdinFlag ?? '--password-stdin'}`,
    ]
      .filter(Boolean)
      .join(', or ');
    if (!process.stdin.isTTY) throw new Error(`the ${spec.name} needs a terminal to ask on; ${sources}`);
    const first = await ask(`${capitalise(spec.name)}: `, true);
    if (spec.confirm && (await ask(`${capitalise(spec.name)} again: `, true)) !== first) {
      throw new Error(`the two ${spec.name}s differ; nothing was changed`);
    }
    return first;
  }
}

/**
 * Registers a hidden option for a flag that once took a secret, so that
 * using it fails with what to do instead (rather than "unknown option"),
 * before anything is sent.
 */
export function refuseSecretOption(command: Command, flag: string, instead: string): void {
  const key = flag.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  command.option(`${flag} <value>`, 'not accepted: secrets are never read from the command line');
  const option = command.options.at(-1);
  option?.hideHelp();
  command.hook('preAction', (_this, action) => {
    if (command.opts()[key] === undefined && action.opts()[key] === undefined) return;
    throw new Error(
      `${flag} is not accepted: a secret on the command line is visible to every user of this machine (ps, /proc) and stays in the shell history; ${instead}`,
    );
  });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
