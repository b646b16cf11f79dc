/**
 * The arithmetic of a drill, pure: which acknowledged writes are missing
 * afterwards, and how long writes stopped. The write load numbers its writes
 * 1, 2, 3, …; each is acknowledged (committed, as far as the client knows),
 * failed (in doubt: the commit may or may not have happened before the
 * connection broke) or never sent.
 */

/** Acknowledged numbers as sorted, disjoint, inclusive runs [from, to]: a load of 100,000 writes is a few runs. */
export type Runs = readonly (readonly [number, number])[];

/** Adds n to runs built in increasing order (the load numbers its writes in order). */
export function appendRun(runs: [number, number][], n: number): void {
  const last = runs.at(-1);
  if (last && n === last[1] + 1) last[1] = n;
  else if (last && n <= last[1]) throw new Error(`write ${n} acknowledged out of order (after ${last[1]})`);
  else runs.push([n, n]);
}

export function runsCount(runs: Runs): number {
  return runs.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
}

export interface LostCommits {
  /** Acknowledged writes not found afterwards. */
  readonly lost: number;
  /** The first few of them, for the evidence. */
  readonly examples: readonly number[];
  /** Writes found that were never acknowledged (in doubt, committed after all): not a loss. */
  readonly committedUnacknowledged: number;
}

/**
 * Acknowledged writes missing from what the new primary holds. `found` is
 * the numbers read back, sorted ascending (duplicates ignored).
 */
export function lostCommits(acknowledged: Runs, found: readonly number[], keep = 10): LostCommits {
  const examples: number[] = [];
  let lost = 0;
  let extra = 0;
  let i = 0;
  let previous = Number.NaN;
  for (const [from, to] of acknowledged) {
    // Found numbers below this run are not acknowledged ones.
    while (i < found.length && (found[i] as number) < from) {
      if (found[i] !== previous) extra++;
      previous = found[i] as number;
      i++;
    }
    for (let n = from; n <= to; n++) {
      while (i < found.length && found[i] === previous) i++;
      if (found[i] === n) {
        previous = n;
        i++;
      } else {
        lost++;
        if (examples.length < keep) examples.push(n);
      }
    }
  }
  for (; i < found.length; i++) {
    if (found[i] !== previous) extra++;
    previous = found[i] as number;
  }
  return { lost, examples, committedUnacknowledged: extra };
}

/** A time without acknowledged writes: from the last acknowledgement before a failed write to the next one. */
export interface Outage {
  /** The last acknowledgement before it (ms on the load's clock); the load's start when none. */
  readonly lastAckAt: number;
  readonly firstErrorAt: number;
  /** The first acknowledgement after it; null while writes still fail. */
  readonly resumedAt: number | null;
}

/**
 * Milliseconds from the fault to the first acknowledged write after the
 * outage it caused: the first outage still open at the fault or begun after
 * it. Null while writes fail, and while the fault has caused no failed write
 * yet (a killed primary's connection breaks a moment later; a switchover
 * breaks it when the old primary is demoted).
 */
export function writesResumeMs(outages: readonly Outage[], faultAt: number): number | null {
  const caused = outages.find((o) => o.resumedAt === null || o.resumedAt > faultAt);
  if (!caused || caused.resumedAt === null) return null;
  return caused.resumedAt - faultAt;
}

/** The longest time without an acknowledged write, open outages up to `now`. */
export function longestGapMs(outages: readonly Outage[], now: number): number {
  return outages.reduce((max, o) => Math.max(max, (o.resumedAt ?? now) - o.lastAckAt), 0);
}
