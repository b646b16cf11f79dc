import { intervalOf, type BackupType, type PhysicalPolicy } from './policy.ts';

/** A backup that finished well, as the schedule needs to know it. */
export interface CompletedBackup {
  readonly type: BackupType;
  readonly finishedAt: Date;
}

export type ScheduleDecision =
  | { readonly kind: 'due'; readonly type: BackupType; readonly reason: string }
  | { readonly kind: 'wait'; readonly until: Date; readonly reason: string };

/**
 * What the policy asks for now, given the backups that succeeded. The widest
 * due kind wins (a full covers a diff, a diff an incr); with no full at all,
 * a full is due whatever the policy says, since nothing else can stand alone.
 */
export function dueBackup(
  policy: PhysicalPolicy,
  done: readonly CompletedBackup[],
  now: Date,
): ScheduleDecision {
  const latest = (types: readonly BackupType[]): Date | undefined => {
    let found: Date | undefined;
    for (const b of done) {
      if (types.includes(b.type) && (!found || b.finishedAt > found)) found = b.finishedAt;
    }
    return found;
  };
  const lastFull = latest(['full']);
  if (!lastFull) return { kind: 'due', type: 'full', reason: 'there is no full backup yet' };

  // Each kind's clock restarts with any wider backup, which contains everything it would.
  const steps: { type: BackupType; every: number | null; since: Date }[] = [
    { type: 'full', every: intervalOf(policy.full), since: lastFull },
    {
      type: 'diff',
      every: policy.diff ? intervalOf(policy.diff) : null,
      since: latest(['full', 'diff']) ?? lastFull,
    },
    {
      type: 'incr',
      every: policy.incr ? intervalOf(policy.incr) : null,
      since: latest(['full', 'diff', 'incr']) ?? lastFull,
    },
  ];
  let next: { at: Date; type: BackupType } | undefined;
  for (const step of steps) {
    if (step.every === null) continue;
    const at = new Date(step.since.getTime() + step.every);
    if (at <= now) {
      return {
        kind: 'due',
        type: step.type,
        reason: `the last ${step.type === 'full' ? 'full' : 'covering'} backup finished at ${step.since.toISOString()}`,
      };
    }
    if (!next || at < next.at) next = { at, type: step.type };
  }
  // The full step always has an interval, so next is set.
  const until = next?.at ?? new Date(lastFull.getTime() + intervalOf(policy.full));
  return { kind: 'wait', until, reason: `next: ${next?.type ?? 'full'} at ${until.toISOString()}` };
}
