import { backupTypes, type BackupType } from '../policy.ts';

/** One backup in a repository, as `pgbackrest info` reports it. */
export interface BackupInfo {
  readonly label: string;
  readonly type: BackupType;
  readonly repo: number;
  readonly prior: string | null;
  readonly startedAt: Date;
  readonly stoppedAt: Date;
  /** Size of the database files the backup covers. */
  readonly databaseBytes: number;
  /** What this backup stored in the repository (compressed, encrypted; a diff or incr only its changes). */
  readonly repositoryBytes: number;
  /** The repository size of everything a restore of this backup reads, references included. */
  readonly repositoryTotalBytes: number;
  readonly walStart: string | null;
  readonly walStop: string | null;
  readonly error: boolean;
}

export interface ArchiveInfo {
  readonly repo: number;
  readonly min: string | null;
  readonly max: string | null;
}

export interface StanzaInfo {
  readonly stanza: string;
  /** pgBackRest's status: 0 is ok, 2 is "no valid backups", others are errors. */
  readonly status: { readonly code: number; readonly message: string };
  readonly backups: readonly BackupInfo[];
  readonly archives: readonly ArchiveInfo[];
}

type Json = Record<string, unknown>;

function obj(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`pgbackrest info: ${where} is not an object`);
  }
  return value as Json;
}
function arr(value: unknown, where: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`pgbackrest info: ${where} is not a list`);
  return value;
}
function num(value: unknown, where: string): number {
  if (typeof value !== 'number') throw new Error(`pgbackrest info: ${where} is not a number`);
  return value;
}
function str(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`pgbackrest info: ${where} is not a string`);
  return value;
}
function optStr(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Parses `pgbackrest info --output=json` for one stanza; a shape it does not know is an error. */
export function parseInfo(text: string, stanza: string): StanzaInfo {
  const all = arr(JSON.parse(text) as unknown, 'the output');
  const found = all.map((s, i) => obj(s, `stanza ${i}`)).find((s) => s.name === stanza);
  if (!found) return { stanza, status: { code: 1, message: 'missing stanza' }, backups: [], archives: [] };
  const status = obj(found.status, 'status');
  const backups = arr(found.backup, 'backup').map((raw, i): BackupInfo => {
    const b = obj(raw, `backup ${i}`);
    const type = str(b.type, `backup ${i} type`);
    if (!(backupTypes as readonly string[]).includes(type)) {
      throw new Error(`pgbackrest info: backup ${i} has unknown type ${type}`);
    }
    const info = obj(b.info, `backup ${i} info`);
    const timestamp = obj(b.timestamp, `backup ${i} timestamp`);
    const archive = b.archive === undefined ? {} : obj(b.archive, `backup ${i} archive`);
    return {
      label: str(b.label, `backup ${i} label`),
      type: type as BackupType,
      repo: num(obj(b.database, `backup ${i} database`)['repo-key'], `backup ${i} repo-key`),
      prior: optStr(b.prior),
      startedAt: new Date(num(timestamp.start, `backup ${i} start`) * 1000),
      stoppedAt: new Date(num(timestamp.stop, `backup ${i} stop`) * 1000),
      databaseBytes: num(info.size, `backup ${i} size`),
      repositoryBytes: num(
        obj(info.repository, `backup ${i} repository`).delta,
        `backup ${i} repository delta`,
      ),
      repositoryTotalBytes: num(
        obj(info.repository, `backup ${i} repository`).size,
        `backup ${i} repository size`,
      ),
      walStart: optStr(archive.start),
      walStop: optStr(archive.stop),
      error: b.error === true,
    };
  });
  const archives = arr(found.archive, 'archive').map((raw, i): ArchiveInfo => {
    const a = obj(raw, `archive ${i}`);
    return {
      repo: num(obj(a.database, `archive ${i} database`)['repo-key'], `archive ${i} repo-key`),
      min: optStr(a.min),
      max: optStr(a.max),
    };
  });
  return {
    stanza,
    status: { code: num(status.code, 'status code'), message: str(status.message, 'status message') },
    backups,
    archives,
  };
}

/** The newest archived WAL segment in a repository, or null. Segment names sort in order. */
export function newestWal(info: StanzaInfo, repo: number): string | null {
  let max: string | null = null;
  for (const a of info.archives) {
    if (a.repo === repo && a.max !== null && (max === null || a.max > max)) max = a.max;
  }
  return max;
}

/**
 * The percent complete of a running backup, from `pgbackrest info`'s text
 * output ("backup/expire running - 42.17% complete"); the JSON output of
 * pgBackRest 2.45 does not carry it. Null when none is reported.
 */
export function parseProgress(text: string): number | null {
  const match = /backup\/expire running - (\d+(?:\.\d+)?)% complete/.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}
