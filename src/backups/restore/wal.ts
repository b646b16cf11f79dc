import { UnavailableError } from '../../core/errors.ts';
import type { Queryable } from '../fingerprint.ts';
import { newestWal, type StanzaInfo } from '../pgbackrest/info.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until a WAL segment (or a later one) is archived in a repository.
 * Segment names of one timeline sort in order.
 */
export async function waitForArchivedWal(
  info: () => Promise<StanzaInfo>,
  repo: number,
  walFile: string,
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    options.signal?.throwIfAborted();
    const max = newestWal(await info(), repo);
    if (max !== null && max >= walFile) return max;
    if (Date.now() > deadline) {
      throw new UnavailableError(
        `WAL segment ${walFile} has not reached repo${repo} (newest there: ${max ?? 'none'}); is archiving working? Check the stanza with pgbackrest check`,
      );
    }
    await sleep(250);
  }
}

/**
 * Makes everything up to now restorable from a repository: a commit stamped
 * now (recovery to a time stops at the first commit after it, and fails
 * when the archived WAL holds none), a WAL switch, and a wait until the
 * switched segment is archived. `client` is a superuser session of the live
 * cluster. Returns the segment waited for.
 */
export async function archiveUpToNow(
  client: Queryable,
  info: () => Promise<StanzaInfo>,
  repo: number,
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<string> {
  // An xid of its own, committed on its own: a commit record with the current time.
  await client.query('select pg_current_xact_id()');
  const switched = await client.query<{ walfile: string }>(
    'select pg_walfile_name(pg_switch_wal()) as walfile',
  );
  const walFile = switched.rows[0]!.walfile;
  await waitForArchivedWal(info, repo, walFile, options);
  return walFile;
}
