import type { RetiredKey } from './keyring.ts';

const dayMs = 86_400_000;

export interface RetiredKeyView {
  readonly id: string;
  readonly retiredAt: Date;
  /** When the longest backup retention has passed since retirement: no backup can need the key after. */
  readonly purgeableAt: Date;
}

export interface PurgePlan {
  readonly purge: readonly RetiredKeyView[];
  readonly keep: readonly RetiredKeyView[];
}

/**
 * Which retired master keys may go: those retired longer ago than the longest
 * backup retention, since every backup of the control database that a key
 * still unlocks was taken before its retirement. Pure.
 */
export function purgePlan(
  retired: ReadonlyMap<string, Pick<RetiredKey, 'retiredAt'>>,
  retentionDays: number,
  now: Date,
): PurgePlan {
  const purge: RetiredKeyView[] = [];
  const keep: RetiredKeyView[] = [];
  const byAge = [...retired].sort(([, a], [, b]) => +a.retiredAt - +b.retiredAt);
  for (const [id, { retiredAt }] of byAge) {
    const view = { id, retiredAt, purgeableAt: new Date(retiredAt.getTime() + retentionDays * dayMs) };
    (view.purgeableAt.getTime() <= now.getTime() ? purge : keep).push(view);
  }
  return { purge, keep };
}
