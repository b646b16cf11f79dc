import type { CheckState } from '../monitoring/index.ts';
import { timeline, type StateInterval } from '../sla/index.ts';
import { clip, total, type Span } from '../sla/intervals.ts';
import { defaultTerms } from '../sla/terms.ts';

/**
 * What a status page shows, as plain data, and the pure functions that make
 * it from evidence. The uptime bars use the SLA report's arithmetic
 * (src/sla timeline: the worst state of the evaluated checks at each instant,
 * unknown wherever nobody probed): a day's uptime is
 * (known - down - partialWeight x degraded) / known, and time not monitored is
 * shown as no data, never as up.
 */
export const componentStates = ['operational', 'degraded', 'outage', 'maintenance', 'no-data'] as const;
export type ComponentState = (typeof componentStates)[number];

export const dayMs = 86_400_000;
export const barDays = 90;

export interface DayBar {
  /** The UTC day, YYYY-MM-DD. */
  readonly date: string;
  /** null: nothing was monitored that day. */
  readonly uptime: number | null;
  readonly downMinutes: number;
  readonly degradedMinutes: number;
  readonly unknownMinutes: number;
}

export interface Component {
  readonly name: string;
  readonly state: ComponentState;
  /** Over the bars' whole span; null: no data at all. */
  readonly uptime: number | null;
  readonly days: readonly DayBar[];
}

export interface PublicUpdate {
  readonly at: string;
  readonly status: string;
  readonly note: string;
}

export interface PublicIncident {
  readonly id: string;
  readonly title: string;
  readonly status: string;
  /** Newest first. */
  readonly updates: readonly PublicUpdate[];
}

export interface PublicMaintenance {
  readonly start: string;
  readonly end: string;
  readonly reason: string;
  /** The component it concerns, or every one. */
  readonly component: string;
}

export interface StatusPageModel {
  readonly title: string;
  readonly generatedAt: string;
  readonly components: readonly Component[];
  readonly current: readonly PublicIncident[];
  readonly maintenance: readonly PublicMaintenance[];
  readonly history: readonly PublicIncident[];
  /** Whether the page offers email subscriptions (a tenant's page: the news is its own). */
  readonly subscribe?: boolean;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** The first instant of the oldest bar: `days` UTC days ending with today. */
export function barsStart(now: number, days = barDays): number {
  return Math.floor(now / dayMs) * dayMs - (days - 1) * dayMs;
}

/** A day's (or the whole span's) figures from the timeline's classes clipped to it. */
function figuresOf(line: ReturnType<typeof timeline>, span: Span, weight: number) {
  const length = span.end - span.start;
  const down = total(clip(line.down, span));
  const degraded = total(clip(line.degraded, span));
  const unknown = total(clip(line.unknown, span));
  const known = length - unknown;
  return {
    uptime: known > 0 ? round((100 * (known - down - weight * degraded)) / known) : null,
    down,
    degraded,
    unknown,
  };
}

/** One bar per UTC day, oldest first, the last one today up to now: one timeline, cut by day. */
export function dayBars(
  states: readonly StateInterval[],
  now: number,
  options: { days?: number; partialWeight?: number } = {},
): { days: DayBar[]; uptime: number | null } {
  const weight = options.partialWeight ?? defaultTerms.partialWeight;
  const first = barsStart(now, options.days);
  const line = timeline(states, { start: first, end: now }, now);
  const days: DayBar[] = [];
  for (let start = first; start < now; start += dayMs) {
    const figures = figuresOf(line, { start, end: Math.min(start + dayMs, now) }, weight);
    days.push({
      date: new Date(start).toISOString().slice(0, 10),
      uptime: figures.uptime,
      downMinutes: Math.round(figures.down / 60_000),
      degradedMinutes: Math.round(figures.degraded / 60_000),
      unknownMinutes: Math.round(figures.unknown / 60_000),
    });
  }
  return { days, uptime: figuresOf(line, { start: first, end: now }, weight).uptime };
}

/** The state a component shows now: maintenance wins, then the open interval's state. */
export function currentState(
  states: readonly StateInterval[],
  now: number,
  inMaintenance: boolean,
): ComponentState {
  if (inMaintenance) return 'maintenance';
  const open = states.filter((s) => s.start <= now && (s.end === null || s.end >= now));
  const worst: Record<CheckState, number> = { up: 0, unknown: 1, degraded: 2, down: 3 };
  let state: CheckState | undefined;
  for (const s of open) if (state === undefined || worst[s.state] > worst[state]) state = s.state;
  switch (state) {
    case 'up':
      return 'operational';
    case 'degraded':
      return 'degraded';
    case 'down':
      return 'outage';
    default:
      return 'no-data';
  }
}

/** Stages in the order a page lists them: prod first, then as configured. */
export function orderStages(stages: readonly string[]): string[] {
  const unique = [...new Set(stages)];
  return [...unique.filter((s) => s === 'prod'), ...unique.filter((s) => s !== 'prod')];
}

/** Aggregates components of many tenants (the vendor's page): per day the mean of the known uptimes. */
export function aggregate(name: string, parts: readonly Component[]): Component {
  const order: readonly ComponentState[] = ['outage', 'degraded', 'maintenance', 'operational', 'no-data'];
  const state =
    parts.length === 0 ? 'no-data' : (order.find((s) => parts.some((p) => p.state === s)) ?? 'no-data');
  const mean = (values: (number | null)[]): number | null => {
    const known = values.filter((v): v is number => v !== null);
    return known.length === 0 ? null : round(known.reduce((a, b) => a + b, 0) / known.length);
  };
  const first = parts[0];
  const days: DayBar[] = (first?.days ?? []).map((day, i) => ({
    date: day.date,
    uptime: mean(parts.map((p) => p.days[i]?.uptime ?? null)),
    downMinutes: Math.max(...parts.map((p) => p.days[i]?.downMinutes ?? 0)),
    degradedMinutes: Math.max(...parts.map((p) => p.days[i]?.degradedMinutes ?? 0)),
    unknownMinutes: Math.min(...parts.map((p) => p.days[i]?.unknownMinutes ?? 0)),
  }));
  return { name, state, uptime: mean(parts.map((p) => p.uptime)), days };
}
