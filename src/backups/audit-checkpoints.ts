import { existsSync } from 'node:fs';
import {
  checkpointLine,
  parseCheckpoint,
  type CheckpointStore,
  type StoredCheckpoint,
} from '../audit/checkpoints.ts';
import type { SystemUser } from '../system/exec.ts';
import { pgbackrestDriver, type PgBackRestDriver } from './pgbackrest/driver.ts';
import { sharedStanza, stanzaConfigPath } from './stanzas.ts';

/** Where the audit log's checkpoints sit in each repository, next to pgBackRest's own data. */
export const auditCheckpointDir = 'steward/audit-checkpoints';

/** Zero-padded, so that the names sort as the sequence numbers do. */
export function auditCheckpointName(seq: string): string {
  return `${seq.padStart(20, '0')}.json`;
}

/**
 * The audit log's checkpoints in one backup repository, as plain objects
 * (`<repo>/steward/audit-checkpoints/<seq>.json`, not encrypted: they hold
 * no secret, and an auditor reads them without the repository's passphrase).
 * Written through pgBackRest, which already reaches both repositories.
 */
export function repositoryCheckpointStore(driver: PgBackRestDriver, repo: number): CheckpointStore {
  const name = `repo${repo}`;
  return {
    name,
    async append(checkpoint) {
      await driver.putRepoFile(
        repo,
        `${auditCheckpointDir}/${auditCheckpointName(checkpoint.seq)}`,
        `${checkpointLine(checkpoint)}\n`,
      );
    },
    async read(): Promise<StoredCheckpoint[]> {
      const names = (await driver.listRepo(repo, auditCheckpointDir))
        .filter((n) => /^\d{20}\.json$/.test(n))
        .sort();
      const newest = names.at(-1);
      if (newest === undefined) return [];
      const path = `${auditCheckpointDir}/${newest}`;
      const text = await driver.getRepoFile(repo, path);
      if (text === undefined) return [];
      return [parseCheckpoint(text.trim(), `${name}:${path}`)];
    },
  };
}

/**
 * The repositories of the shared stanza (the cluster that holds the control
 * database), once the backup service has prepared it; none before, or when
 * Steward does not run that cluster itself.
 */
export function sharedRepositoryCheckpointStores(options: {
  readonly dataDir: string;
  readonly repositories: number;
  readonly user: SystemUser | undefined;
  readonly bin?: string;
}): CheckpointStore[] {
  const configPath = stanzaConfigPath(options.dataDir, sharedStanza);
  if (!existsSync(configPath)) return [];
  const driver = pgbackrestDriver({
    configPath,
    stanza: sharedStanza,
    user: options.user,
    // Short: the last checkpoint is written while Steward stops, which must not hang on a slow store.
    commandTimeoutMs: 20_000,
    ...(options.bin ? { bin: options.bin } : {}),
  });
  return Array.from({ length: options.repositories }, (_, index) =>
    repositoryCheckpointStore(driver, index + 1),
  );
}
