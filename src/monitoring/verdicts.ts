import { intervalOf, type PhysicalPolicy } from '../backups/policy.ts';
import type { Freshness } from '../backups/freshness.ts';
import type { HttpSpec } from './specs.ts';
import type { ProbeOutcome } from './states.ts';

/**
 * What a probe's observation means: pure functions from what a driver saw
 * to an outcome and a line for people.
 */
export interface Verdict {
  readonly outcome: ProbeOutcome;
  readonly detail: string;
}

/** One HTTP answer (or the error instead of one) against the check's expectations. */
export type HttpObservation =
  | { readonly kind: 'answer'; readonly status: number; readonly body: string }
  | { readonly kind: 'error'; readonly reason: string };

export function httpVerdict(spec: HttpSpec, path: string, seen: HttpObservation): Verdict {
  const what = `${spec.method} ${path}`;
  if (seen.kind === 'error') return { outcome: 'fail', detail: `${what} failed: ${seen.reason}` };
  const statusOk =
    spec.expectStatus === null ? seen.status >= 200 && seen.status < 400 : seen.status === spec.expectStatus;
  if (!statusOk) {
    const wanted = spec.expectStatus === null ? '2xx or 3xx' : String(spec.expectStatus);
    return { outcome: 'fail', detail: `${what} answered ${seen.status}, expected ${wanted}` };
  }
  if (spec.expectBody !== null && !seen.body.includes(spec.expectBody)) {
    return {
      outcome: 'fail',
      detail: `${what} answered ${seen.status} without ${JSON.stringify(spec.expectBody)} in its body`,
    };
  }
  return { outcome: 'ok', detail: `${what} answered ${seen.status}` };
}

/** Several targets of one check (each web process): all good is ok, some is degraded, none is a failure. */
export function combineVerdicts(label: string, verdicts: readonly Verdict[]): Verdict {
  if (verdicts.length === 0) return { outcome: 'fail', detail: `no ${label} to probe` };
  const bad = verdicts.filter((v) => v.outcome !== 'ok');
  if (bad.length === 0)
    return { outcome: 'ok', detail: `${verdicts.length} of ${verdicts.length} ${label} ok` };
  const outcome =
    bad.length === verdicts.length && bad.every((v) => v.outcome === 'fail') ? 'fail' : 'degraded';
  return {
    outcome,
    detail: `${verdicts.length - bad.length} of ${verdicts.length} ${label} ok; ${bad.map((v) => v.detail).join('; ')}`,
  };
}

/**
 * Backup freshness against the policy: the newest good backup is due again
 * after the policy's shortest interval; within 1.5 of it is ok (a backup takes
 * time), within 2 degraded (one run missed), beyond that or none at all a failure.
 */
/**
 * The newest good backup against the policy. A check younger than one and a
 * half of the policy's shortest interval without a backup yet is ok: its
 * stage's first backup is not due (a new stage raises no alert).
 */
export function backupVerdict(
  policy: PhysicalPolicy,
  freshness: Freshness | null,
  watchingSeconds = Number.POSITIVE_INFINITY,
): Verdict {
  const intervals = [
    intervalOf(policy.full),
    ...(policy.diff ? [intervalOf(policy.diff)] : []),
    ...(policy.incr ? [intervalOf(policy.incr)] : []),
  ];
  const expectedSeconds = Math.min(...intervals) / 1000;
  if (!freshness && watchingSeconds < expectedSeconds * 1.5)
    return {
      outcome: 'ok',
      detail: `no backup yet; the first is due within ${formatAge(expectedSeconds * 1.5 - watchingSeconds)}`,
    };
  if (!freshness) return { outcome: 'fail', detail: 'no good backup yet' };
  const age = freshness.ageSeconds;
  const detail = `newest good backup ${freshness.label} is ${formatAge(age)} old; the policy backs up every ${formatAge(expectedSeconds)}`;
  if (age <= expectedSeconds * 1.5) return { outcome: 'ok', detail };
  if (age <= expectedSeconds * 2) return { outcome: 'degraded', detail };
  return { outcome: 'fail', detail };
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** One process of the active release as the supervisor sees it. */
export interface ProcessSeen {
  /** type.instance, e.g. web.0 */
  readonly name: string;
  readonly phase: string;
  readonly healthy: boolean | null;
  readonly lastExitAt: string | null;
}

/**
 * The processes of the active release: all running (and healthy where probed)
 * is ok; one that exited within the last `windowMs` (a restart) or is not
 * running is degraded; none running is a failure. A stage scaled to zero on
 * purpose is ok.
 */
export function processVerdict(
  seen: { readonly scaledToZero: boolean; readonly processes: readonly ProcessSeen[] },
  now: Date,
  windowMs: number,
): Verdict {
  if (seen.scaledToZero) return { outcome: 'ok', detail: 'scaled to zero until the next request' };
  if (seen.processes.length === 0)
    return { outcome: 'fail', detail: 'no process of the active release runs' };
  const problems: string[] = [];
  for (const p of seen.processes) {
    if (p.phase !== 'running') problems.push(`${p.name} is ${p.phase}`);
    else if (p.healthy === false) problems.push(`${p.name} is unhealthy`);
    else if (p.lastExitAt !== null && now.getTime() - Date.parse(p.lastExitAt) <= windowMs) {
      problems.push(`${p.name} restarted at ${p.lastExitAt}`);
    }
  }
  const running = seen.processes.filter((p) => p.phase === 'running').length;
  const total = seen.processes.length;
  if (problems.length === 0) return { outcome: 'ok', detail: `${total} of ${total} processes running` };
  return {
    outcome: running === 0 ? 'fail' : 'degraded',
    detail: `${running} of ${total} processes running; ${problems.join('; ')}`,
  };
}

/** A filesystem as statfs sees it. */
export interface VolumeSeen {
  /** data or files */
  readonly label: string;
  readonly freeBytes: number;
  readonly totalBytes: number;
}

/** Free space below these fractions is degraded, then a failure. */
export const diskThresholds = { degraded: 0.1, fail: 0.05 } as const;

/**
 * Free space of each volume, and the files quota's use: below 10 % free (or
 * above 90 % of the quota) is degraded, below 5 % (or the quota reached) a failure.
 */
export function diskVerdict(
  volumes: readonly VolumeSeen[],
  quota: { readonly usedBytes: number; readonly quotaBytes: number } | null,
): Verdict {
  let outcome: ProbeOutcome = 'ok';
  const worse = (o: ProbeOutcome): void => {
    if (o === 'fail' || (o === 'degraded' && outcome === 'ok')) outcome = o;
  };
  const parts: string[] = [];
  for (const v of volumes) {
    const free = v.totalBytes > 0 ? v.freeBytes / v.totalBytes : 0;
    parts.push(
      `${v.label}: ${Math.floor(free * 100)} % free (${formatGiB(v.freeBytes)} of ${formatGiB(v.totalBytes)})`,
    );
    if (free < diskThresholds.fail) worse('fail');
    else if (free < diskThresholds.degraded) worse('degraded');
  }
  if (quota) {
    const used = quota.usedBytes / quota.quotaBytes;
    parts.push(`files quota: ${Math.round(used * 100)} % used`);
    if (used >= 1) worse('fail');
    else if (used >= 0.9) worse('degraded');
  }
  return { outcome, detail: parts.join('; ') };
}

function formatGiB(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** What the gateway served for one host name. */
export type CertificateSeen =
  { readonly host: string; readonly notAfter: string } | { readonly host: string; readonly error: string };

/** Days left below these are degraded (renewal is overdue), then a failure. */
export const certificateThresholds = { degradedDays: 21, failDays: 7 } as const;

/**
 * The certificates served for a stage's hosts: each must be trusted (an
 * error otherwise) and far from expiry; the worst host decides.
 */
export function certificateVerdict(seen: readonly CertificateSeen[], now: Date): Verdict {
  if (seen.length === 0) return { outcome: 'fail', detail: 'no host to check' };
  let outcome: ProbeOutcome = 'ok';
  const parts: string[] = [];
  for (const c of seen) {
    if ('error' in c) {
      outcome = 'fail';
      parts.push(`${c.host}: ${c.error}`);
      continue;
    }
    const days = Math.floor((Date.parse(c.notAfter) - now.getTime()) / 86_400_000);
    parts.push(`${c.host}: ${days} days left`);
    if (days < certificateThresholds.failDays) outcome = 'fail';
    else if (days < certificateThresholds.degradedDays && outcome === 'ok') outcome = 'degraded';
  }
  return { outcome, detail: parts.join('; ') };
}
