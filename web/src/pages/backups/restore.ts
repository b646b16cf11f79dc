import { restorePhases, type RestorableRange, type RestorePhase, type RestoreRow } from './types.ts';

/**
 * The pure parts of starting and following a restore from the console: the
 * window a time may be picked in, the body the API takes, and the steps a
 * restore shows. No I/O, no React.
 */

/** What a point-in-time restore of a stage can reach: from the oldest good backup's consistent point until now. */
export interface RestoreWindow {
  readonly from: string;
  readonly latestBackupAt: string;
  readonly latestWal: string | null;
}

/** The widest window over the repositories (the API picks the repository that holds the time), or null without a good backup. */
export function restoreWindow(ranges: readonly RestorableRange[]): RestoreWindow | null {
  let window: RestoreWindow | null = null;
  for (const range of ranges) {
    if (!window) {
      window = { from: range.from, latestBackupAt: range.latestBackupAt, latestWal: range.latestWal };
      continue;
    }
    window = {
      from: range.from < window.from ? range.from : window.from,
      latestBackupAt:
        range.latestBackupAt > window.latestBackupAt ? range.latestBackupAt : window.latestBackupAt,
      latestWal:
        window.latestWal === null || (range.latestWal !== null && range.latestWal > window.latestWal)
          ? range.latestWal
          : window.latestWal,
    };
  }
  return window;
}

/** An instant as the time field shows it: ISO in UTC, whole seconds (what the API accepts and echoes). */
export function timeText(at: Date): string {
  return new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

export const restoreTargets = ['into', 'in-place'] as const;
export type RestoreTarget = (typeof restoreTargets)[number];

export type RestoreFormValues = {
  readonly toTime: string;
  readonly target: RestoreTarget;
  /** The new stage, for `into`. */
  readonly into: string;
  /** The stage's name typed into the confirmation, for `in-place`. */
  readonly confirm: string;
};

/**
 * The request body as the form gives it: values as typed (the API parses
 * them and names the field it refuses), `into` or `inPlace` with `confirm`,
 * exactly one of the two, as the API accepts.
 */
export function restoreBody(values: RestoreFormValues): Readonly<Record<string, unknown>> {
  return values.target === 'in-place'
    ? { toTime: values.toTime.trim(), inPlace: true, confirm: values.confirm }
    : { toTime: values.toTime.trim(), into: values.into.trim() };
}

/** A step of a restore's progress: the phases it goes through, each done, current, still to come or failed. */
export interface RestoreStep {
  readonly phase: RestorePhase;
  readonly state: 'done' | 'current' | 'todo' | 'failed';
}

/**
 * A restore's phases as steps. Only `into` creates a stage, so an in-place
 * restore shows no such step; a restore that failed marks the phase it
 * failed in.
 */
export function restoreSteps(restore: Pick<RestoreRow, 'mode' | 'phase' | 'status'>): RestoreStep[] {
  const phases = restorePhases.filter((p) => !(p === 'creating-stage' && restore.mode === 'in-place'));
  const at = phases.indexOf(restore.phase);
  return phases.map((phase, i) => {
    if (restore.status === 'succeeded') return { phase, state: 'done' };
    if (i < at) return { phase, state: 'done' };
    if (i === at) return { phase, state: restore.status === 'failed' ? 'failed' : 'current' };
    return { phase, state: 'todo' };
  });
}

/** From the request to the end: the restore's measured RTO; null while it runs. */
export function restoreTookMs(restore: Pick<RestoreRow, 'createdAt' | 'finishedAt'>): number | null {
  if (!restore.finishedAt) return null;
  return Math.max(0, Date.parse(restore.finishedAt) - Date.parse(restore.createdAt));
}

/** The order a restore's steps run in, for its timings (`restoreMs`, `copyMs` …); `total` comes last. */
const timingOrder = ['restore', 'recover', 'copy', 'verify', 'files', 'swap', 'total'];

/** A restore's step timings as [step, ms], in the order the steps ran; steps this list does not know go before the total. */
export function restoreTimings(timings: Readonly<Record<string, number>>): [string, number][] {
  const rank = (step: string) => {
    const i = timingOrder.indexOf(step);
    return i === -1 ? timingOrder.length - 1.5 : i;
  };
  return Object.entries(timings)
    .map(([key, ms]): [string, number] => [key.replace(/Ms$/, ''), ms])
    .sort((a, b) => rank(a[0]) - rank(b[0]));
}
