/**
 * Per-minute rollups of probe results: count, failures and latency
 * percentiles. Pure; the runner keeps the minute's samples and stores the sum.
 */
export interface RollupSample {
  readonly ok: boolean;
  readonly latencyMs: number;
}

export interface Rollup {
  /** The minute's start (ISO 8601, seconds zero). */
  readonly minute: string;
  readonly count: number;
  readonly failures: number;
  readonly latencyP50Ms: number;
  readonly latencyP95Ms: number;
  readonly latencyMaxMs: number;
}

/** The minute a moment falls in. */
export function minuteOf(at: string | Date): string {
  const ms = typeof at === 'string' ? Date.parse(at) : at.getTime();
  return new Date(ms - (ms % 60_000)).toISOString();
}

/** Nearest-rank percentile (p in 0..100) of sorted values; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? 0;
}

export function rollup(minute: string, samples: readonly RollupSample[]): Rollup {
  const latencies = samples.map((s) => Math.round(s.latencyMs)).sort((a, b) => a - b);
  return {
    minute,
    count: samples.length,
    failures: samples.filter((s) => !s.ok).length,
    latencyP50Ms: percentile(latencies, 50),
    latencyP95Ms: percentile(latencies, 95),
    latencyMaxMs: latencies.at(-1) ?? 0,
  };
}
