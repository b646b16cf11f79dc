import { InternalError } from '../../core/errors.ts';
import type { SystemUser } from '../../system/exec.ts';
import type { BackupType } from '../policy.ts';
import type { RepoRetention } from '../retention.ts';
import { retentionOptions } from '../retention.ts';
import { parseInfo, parseProgress, type StanzaInfo } from './info.ts';
import { runInGroup, type GroupRunResult } from './process.ts';

/** pgBackRest exited with an error; `exitCode` is its error number (e.g. 50 for a lock it could not take). */
export class PgBackRestError extends InternalError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options: { cause?: unknown } = {}) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

export interface PgBackRestDriverOptions {
  readonly configPath: string;
  readonly stanza: string;
  /** The PostgreSQL user (postgres when Steward is root); every command runs as it. */
  readonly user: SystemUser | undefined;
  readonly bin?: string;
  /** Limit for everything but backups, which take their own. */
  readonly commandTimeoutMs?: number;
}

export interface BackupRequest {
  readonly type: BackupType;
  readonly repo: number;
  /** A backup still running after this is killed and reported failed. */
  readonly timeoutMs: number;
  readonly onStart?: (pid: number) => void;
  /** Aborting kills the backup (Steward stopping, an operator cancelling); it is reported failed. */
  readonly signal?: AbortSignal;
}

export type BackupOutcome =
  | { readonly ok: true; readonly label: string; readonly durationMs: number }
  | { readonly ok: false; readonly error: string; readonly timedOut: boolean; readonly durationMs: number };

export interface ExpireOptions {
  readonly repo?: number;
  readonly retention?: RepoRetention;
  /** Expire this backup set (the label and what builds on it) whatever the retention; needs `repo`. */
  readonly set?: string;
  /**
   * Keep continuous WAL only from this many of the newest fulls on (needs
   * `repo`); older backups keep the WAL they need to be consistent.
   */
  readonly walFulls?: number;
}

export interface VerifyOutcome {
  readonly ok: boolean;
  /** pgBackRest's own words: what it checked and what failed. */
  readonly report: string;
}

export interface PgBackRestDriver {
  readonly stanza: string;
  /** Creates the stanza in every repository; safe to repeat. */
  stanzaCreate(): Promise<void>;
  /** Checks the configuration and that WAL reaches every repository. */
  check(): Promise<void>;
  backup(request: BackupRequest): Promise<BackupOutcome>;
  /** Removes what retention no longer keeps; `retention` overrides the configured one for this run. */
  expire(options?: ExpireOptions): Promise<void>;
  info(): Promise<StanzaInfo>;
  /** The running backup's percent complete as pgbackrest info reports it, or null. */
  progress(): Promise<number | null>;
  verify(options?: { repo?: number }): Promise<VerifyOutcome>;
  /** What a repository stores directly under `path` (relative to the repository, e.g. backup/<stanza>/<label>). */
  listRepo(repo: number, path: string): Promise<readonly string[]>;
  /** Stores a small plain object (not encrypted: --raw) at `path`, relative to the repository. */
  putRepoFile(repo: number, path: string, text: string): Promise<void>;
  /** Reads what putRepoFile stored; undefined when there is no such file. */
  getRepoFile(repo: number, path: string): Promise<string | undefined>;
}

/** pgBackRest's error number for a file that does not exist. */
const fileMissing = 55;

export function pgbackrestDriver(options: PgBackRestDriverOptions): PgBackRestDriver {
  const bin = options.bin ?? 'pgbackrest';
  const limit = options.commandTimeoutMs ?? 300_000;
  const base = [`--config=${options.configPath}`, `--stanza=${options.stanza}`];

  async function command(
    name: string,
    extra: readonly string[] = [],
    timeoutMs = limit,
    hooks: { onStart?: (pid: number) => void; signal?: AbortSignal; input?: string } = {},
    positional: readonly string[] = [],
  ): Promise<GroupRunResult> {
    return runInGroup(bin, [...base, ...extra, name, ...positional], {
      user: options.user,
      timeoutMs,
      ...(hooks.onStart ? { onStart: hooks.onStart } : {}),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      ...(hooks.input !== undefined ? { input: hooks.input } : {}),
    });
  }

  function failure(name: string, result: GroupRunResult): PgBackRestError {
    const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    const why = result.timedOut
      ? 'was killed after its time limit'
      : result.cancelled
        ? 'was cancelled'
        : `failed (exit ${result.code})`;
    return new PgBackRestError(`pgbackrest ${name} of stanza ${options.stanza} ${why}: ${said}`, result.code);
  }

  async function checked(name: string, extra: readonly string[] = []): Promise<GroupRunResult> {
    const result = await command(name, extra);
    if (result.code !== 0 || result.timedOut) throw failure(name, result);
    return result;
  }

  return {
    stanza: options.stanza,

    async stanzaCreate() {
      await checked('stanza-create');
    },

    async check() {
      await checked('check');
    },

    async backup(request) {
      const started = Date.now();
      const result = await command(
        'backup',
        [`--type=${request.type}`, `--repo=${request.repo}`, '--log-level-console=info'],
        request.timeoutMs,
        {
          ...(request.onStart ? { onStart: request.onStart } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        },
      );
      const durationMs = Date.now() - started;
      if (result.code !== 0 || result.timedOut || result.cancelled) {
        return { ok: false, error: failure('backup', result).message, timedOut: result.timedOut, durationMs };
      }
      const label = /new backup label = (\S+)/.exec(result.stdout)?.[1];
      if (!label) {
        return {
          ok: false,
          error: `pgbackrest backup finished without naming its backup: ${result.stdout.slice(-500)}`,
          timedOut: false,
          durationMs,
        };
      }
      return { ok: true, label, durationMs };
    },

    async expire(expireOptions = {}) {
      const extra: string[] = [];
      if (expireOptions.repo !== undefined) extra.push(`--repo=${expireOptions.repo}`);
      else if (expireOptions.set !== undefined || expireOptions.walFulls !== undefined) {
        throw new InternalError('pgbackrest expire of one set or of WAL needs the repository it is for');
      }
      if (expireOptions.set !== undefined) extra.push(`--set=${expireOptions.set}`);
      if (expireOptions.walFulls !== undefined) {
        extra.push(
          `--repo${expireOptions.repo}-retention-archive-type=full`,
          `--repo${expireOptions.repo}-retention-archive=${expireOptions.walFulls}`,
        );
      }
      if (expireOptions.retention) {
        for (const repo of expireOptions.repo !== undefined ? [expireOptions.repo] : [1, 2, 3, 4]) {
          for (const [key, value] of Object.entries(retentionOptions(repo, expireOptions.retention))) {
            extra.push(`--${key}=${value}`);
          }
        }
      }
      await checked('expire', extra);
    },

    async info() {
      const result = await checked('info', ['--output=json']);
      return parseInfo(result.stdout, options.stanza);
    },

    async progress() {
      const result = await command('info', ['--output=text'], 30_000);
      return result.code === 0 ? parseProgress(result.stdout) : null;
    },

    async verify(verifyOptions = {}) {
      const extra = ['--log-level-console=info', '--verbose'];
      if (verifyOptions.repo !== undefined) extra.push(`--repo=${verifyOptions.repo}`);
      const result = await command('verify', extra);
      let report = `${result.stdout}${result.stderr}`.trim();
      // The summary names every problem; its counters and statuses are checked too, not only the exit code.
      const problems =
        /\b(missing|checksum invalid|size invalid|other): [1-9]/.test(report) ||
        /\bstatus: (?!ok\b|valid\b)/.test(report) ||
        /\b(ERROR|WARN):/.test(report);
      let ok = result.code === 0 && !result.timedOut && !problems;
      // A store whose listing hides nested prefixes (s3rver) makes verify find no WAL at all and
      // still succeed: when the archive holds WAL that verify did not see, nothing was verified.
      if (ok && /archiveId: none found/.test(report)) {
        const archived = await checked('info', ['--output=json'])
          .then((r) => parseInfo(r.stdout, options.stanza))
          .then((info) =>
            info.archives.filter(
              (a) => a.max !== null && (verifyOptions.repo === undefined || a.repo === verifyOptions.repo),
            ),
          );
        if (archived.length > 0) {
          ok = false;
          report += `\nSteward: verify found no WAL, but ${archived
            .map((a) => `repo${a.repo} holds WAL up to ${a.max}`)
            .join(' and ')}: the repository's listing is incomplete, so its WAL was not verified`;
        }
      }
      return { ok, report };
    },

    async listRepo(repo, path) {
      const result = await command('repo-ls', [`--repo=${repo}`, '--output=json'], limit, {}, [path]);
      if (result.code !== 0 || result.timedOut) throw failure('repo-ls', result);
      const listing = JSON.parse(result.stdout || '{}') as Record<string, unknown>;
      return Object.keys(listing).filter((name) => name !== '.');
    },

    async putRepoFile(repo, path, text) {
      const result = await command('repo-put', [`--repo=${repo}`, '--raw'], limit, { input: text }, [path]);
      if (result.code !== 0 || result.timedOut) throw failure('repo-put', result);
    },

    async getRepoFile(repo, path) {
      const result = await command('repo-get', [`--repo=${repo}`, '--raw'], limit, {}, [path]);
      if (result.code === fileMissing && !result.timedOut) return undefined;
      if (result.code !== 0 || result.timedOut) throw failure('repo-get', result);
      return result.stdout;
    },
  };
}
