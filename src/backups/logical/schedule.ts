import { intervalOf, type ExportInterval } from '../policy.ts';

export type ExportDecision = { readonly kind: 'due' } | { readonly kind: 'wait'; readonly until: Date };

/**
 * Whether a stage's export is due under its tenant's policy: one is due
 * when the stage has none, or when the newest (running or succeeded: a
 * failed one does not count) is at least the policy's interval old;
 * otherwise the schedule waits until then. Pure: table-tested.
 */
export function dueExport(every: ExportInterval, newestExportAt: Date | null, now: Date): ExportDecision {
  if (newestExportAt === null) return { kind: 'due' };
  const until = new Date(newestExportAt.getTime() + intervalOf(every));
  return until <= now ? { kind: 'due' } : { kind: 'wait', until };
}
