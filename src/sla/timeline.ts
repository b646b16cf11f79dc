import type { CheckState } from '../monitoring/index.ts';
import { normalize, type Span } from './intervals.ts';

/**
 * The evaluated checks' intervals as one state over time, and their down
 * runs merged into outages. Pure.
 */

/** One stored state interval of an evaluated check (check_states). */
export interface StateInterval {
  readonly id: string;
  readonly checkId: string;
  readonly state: CheckState;
  readonly start: number;
  /** null: still open (it lasts until now). */
  readonly end: number | null;
}

const worst: Readonly<Record<CheckState, number>> = { up: 0, unknown: 1, degraded: 2, down: 3 };

export interface Timeline {
  readonly down: Span[];
  readonly degraded: Span[];
  readonly unknown: Span[];
  /** Down spans with the state rows behind them. */
  readonly downRuns: { span: Span; ids: string[] }[];
}

/**
 * The evaluated checks as one state over time: at each instant the worst of
 * them (down over degraded over unknown over up: known trouble wins over not
 * knowing), and unknown wherever no check has an interval.
 */
export function timeline(states: readonly StateInterval[], within: Span, now: number): Timeline {
  const rows = states.map((s) => ({ ...s, end: Math.min(s.end ?? now, now) })).filter((s) => s.end > s.start);
  const points = new Set<number>([within.start, within.end]);
  for (const r of rows) {
    points.add(r.start);
    points.add(r.end);
  }
  const sorted = [...points].sort((a, b) => a - b);
  const byStart = [...rows].sort((a, b) => a.start - b.start);
  const active: typeof rows = [];
  let next = 0;
  const classes: Record<CheckState, Span[]> = { up: [], degraded: [], down: [], unknown: [] };
  const downRuns: { span: Span; ids: string[] }[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const start = sorted[i] as number;
    const end = sorted[i + 1] as number;
    while (next < byStart.length && (byStart[next] as (typeof rows)[number]).start <= start) {
      active.push(byStart[next] as (typeof rows)[number]);
      next++;
    }
    for (let k = active.length - 1; k >= 0; k--) {
      if ((active[k] as (typeof rows)[number]).end <= start) active.splice(k, 1);
    }
    let state: CheckState = 'unknown';
    if (active.length > 0) {
      state = 'up';
      for (const r of active) if (worst[r.state] > worst[state]) state = r.state;
    } else if (start < within.start || start >= within.end) continue;
    classes[state].push({ start, end });
    if (state === 'down') {
      const ids = active.filter((r) => r.state === 'down').map((r) => r.id);
      const last = downRuns.at(-1);
      if (last && last.span.end === start) {
        last.span = { start: last.span.start, end };
        for (const id of ids) if (!last.ids.includes(id)) last.ids.push(id);
      } else downRuns.push({ span: { start, end }, ids });
    }
  }
  return {
    down: normalize(classes.down),
    degraded: normalize(classes.degraded),
    unknown: normalize(classes.unknown),
    downRuns,
  };
}

export interface OutageEvent {
  readonly span: Span;
  readonly down: number;
  readonly ids: string[];
  readonly ongoing: boolean;
}

/**
 * Down runs less than `gapMs` apart (end of one to start of the next, strictly
 * less) become one outage, from the first run's start to the last run's end.
 * The short-outage clause then compares that whole span, so an outage cut in
 * pieces by a few good probes is not excluded piece by piece.
 */
export function mergeOutages(
  runs: readonly { span: Span; ids: readonly string[] }[],
  gapMs: number,
  now: number,
): OutageEvent[] {
  const out: { span: Span; down: number; ids: string[]; ongoing: boolean }[] = [];
  for (const run of runs) {
    const last = out.at(-1);
    if (last && run.span.start - last.span.end < gapMs) {
      last.span = { start: last.span.start, end: run.span.end };
      last.down += run.span.end - run.span.start;
      last.ids.push(...run.ids.filter((id) => !last.ids.includes(id)));
    } else {
      out.push({ span: run.span, down: run.span.end - run.span.start, ids: [...run.ids], ongoing: false });
    }
  }
  return out.map((o) => ({ ...o, ongoing: o.span.end >= now }));
}
