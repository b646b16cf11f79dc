/**
 * bench/detect: how long until a person is told that the demo's prod stage
 * stopped serving, beside what Uptime Kuma, Gatus and Prometheus with
 * Alertmanager would take by their documented defaults. Prints JSON.
 *
 * Each run starts Steward with the demo (`npm start`), an email channel to a
 * real SMTP server (smtp-server, bench/smtp.ts) and deploys to demo/prod the
 * sample app with its supervisor health probe turned down to every 300 s x
 * 100 failures: the supervisor's own restart stays out of the way. Then it
 * SIGSTOPs prod's web process: the process is there, holds its port,
 * accepts connections and answers nothing, the way a hung app does (a
 * killed one would be restarted by the supervisor within a second).
 *
 * - defaults: default intervals (checks every 30 s, 5 s timeout, down after
 *   2 failures, the built-in "stage-down" rule). Seconds from the SIGSTOP
 *   until the SMTP server holds the FIRING email (target <= 90), then,
 *   after SIGCONT, until it holds the RESOLVED one.
 * - fast: the same with checks every 5 s (monitoring.intervalSeconds) and a
 *   BENCH_FAST_TIMEOUT_MS (2000) probe timeout (target <= 15).
 * - healing (when src/healing/ exists): defaults plus a rule that restarts
 *   the web process while the alert is pending (`for: 60s`): seconds until
 *   prod serves again, and whether the alert resolved with no email.
 *
 * BENCH_MODES (defaults,fast,healing) picks the runs; BENCH_TRIALS (1, at
 * most 2: a third would be flapping) repeats the stop in each run (detection depends on where in its interval
 * a check is when the process stops: the spread is the point of trials).
 *
 * Usage: npm run bench:detect
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { systemPrincipal } from '../src/core/policy.ts';
import { defaultRules } from '../src/alerts/index.ts';
import type { BenchSteward } from './support.ts';
import { withDescendants } from './cpu.ts';
import { smtpReceiver, type ReceivedMail } from './smtp.ts';
import { deploy, get, log, round, sleep, stageView, uploadRelease, variant, withSteward } from './support.ts';

const modes = (process.env.BENCH_MODES ?? 'defaults,fast,healing').split(',').map((m) => m.trim());
/**
 * At most 2: each trial is 2 state changes per check, and 6 within 10 minutes is flapping
 * (alerts.flapChanges): a third trial's alert stays open, marked flapping, by design.
 */
const trials = Math.min(2, Number(process.env.BENCH_TRIALS ?? 1));
const fastTimeoutMs = Number(process.env.BENCH_FAST_TIMEOUT_MS ?? 2000);
const healingAvailable = existsSync(join(import.meta.dirname, '..', 'src', 'healing'));
const tenant = 'demo';
const stage = 'prod';

/** What an operator would use instead, by their documented defaults, for a hung (not refusing) web process. */
const anchors = {
  uptimeKuma: {
    assumptions:
      'HTTP monitor defaults: interval 60 s, retries 0, request timeout 48 s (0.8 x interval); ' +
      'the first probe after the hang fails when it times out, then the notification is sent (~1 s)',
    secondsMin: 0 + 48 + 1,
    secondsMean: 30 + 48 + 1,
    secondsMax: 60 + 48 + 1,
    ifRefused: 'a stopped process that refuses connections: 1-61 s (mean 31 s)',
  },
  gatus: {
    assumptions:
      'endpoint defaults: interval 60 s, client timeout 10 s, alert failure-threshold 3: ' +
      'three failed checks 60 s apart, the first 0-60 s after the hang',
    secondsMin: 0 + 2 * 60 + 10,
    secondsMean: 30 + 2 * 60 + 10,
    secondsMax: 60 + 2 * 60 + 10,
  },
  prometheusAlertmanager: {
    assumptions:
      'scrape_interval 1m with scrape_timeout 10s (up == 0 after the first failed scrape, 0-60 s after the hang), ' +
      'evaluation_interval 1m (0-60 s more until a rule sees it), for: 2m, Alertmanager group_wait 30s',
    secondsMin: 0 + 10 + 0 + 120 + 30,
    secondsMean: 30 + 10 + 30 + 120 + 30,
    secondsMax: 60 + 10 + 60 + 120 + 30,
  },
};

interface Trial {
  readonly stoppedAt: string;
  /** From the SIGSTOP until the SMTP server held the FIRING email. */
  readonly secondsUntilEmail: number | null;
  /** The alert's own times, from the SIGSTOP: started (the check went down), fired, first notification delivered. */
  readonly alert: Record<string, number | string | null> | null;
  /** From the SIGCONT until the SMTP server held the RESOLVED email. */
  readonly secondsUntilResolvedEmail: number | null;
}

const since = (from: number, iso: string | null | undefined): number | null =>
  iso ? round((Date.parse(iso) - from) / 1000, 1) : null;

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** The alert pager's subject, as the email driver sends it: "[Steward] FIRING critical: demo/prod: …" (critical alerts only). */
const about = (m: ReceivedMail, event: 'FIRING' | 'RESOLVED'): boolean =>
  m.subject.replace(/^\[Steward\] /, '').startsWith(`${event} critical: ${tenant}/${stage}:`);

/** The web process of demo/prod, once it is running and healthy as the supervisor sees it. */
async function webPid(s: BenchSteward, notPid?: number): Promise<number> {
  return until('a healthy web process in demo/prod', 120_000, async () => {
    const web = (await stageView(s.api, tenant, stage)).processes.find((p) => p.process === 'web');
    return web?.pid && web.pid !== notPid && web.healthy !== false ? web.pid : undefined;
  });
}

/** The demo with prod on the sample app whose supervisor leaves a hung process alone, and an email channel. */
async function prepare(s: BenchSteward): Promise<{ url: string }> {
  const services = s.running.steward.services;
  if (!s.running.demo) throw new Error('the demo was not set up');
  const dir = await variant((yaml) =>
    yaml
      .replace(/intervalSeconds: \d+/, 'intervalSeconds: 300')
      .replace(/failureThreshold: \d+/, 'failureThreshold: 100'),
  );
  try {
    await uploadRelease(s.api, dir, '1.0.1');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  log('deploying 1.0.1 (the supervisor probes every 300 s) to demo/prod');
  await deploy(s.api, tenant, stage, '1.0.1');
  await services.notifications.addChannel(
    { kind: 'email', target: 'ops@example.com', name: 'ops' },
    systemPrincipal,
  );
  const url = (await stageView(s.api, tenant, stage)).url;
  if (!url) throw new Error('demo/prod is not published');
  return { url };
}

/**
 * A clean start for a trial: demo/prod's HTTP, process and database checks
 * up and no critical alert of it open (its backup check stays down, a
 * warning: the demo has no backup yet), then a random part of an interval:
 * the checks are seen up right after a probe, so stopping at once would
 * always be the worst phase (the next probe a whole interval away).
 */
async function settled(s: BenchSteward): Promise<void> {
  const services = s.running.steward.services;
  await until('demo/prod checks up and its critical alerts resolved', 300_000, async () => {
    const checks = (await services.checks.list(tenant, stage)).filter((c) =>
      ['http', 'process', 'database'].includes(c.kind),
    );
    const open = (await services.alerts.list({ open: true, tenant, stage })).filter(
      (a) => a.severity === 'critical',
    );
    return checks.length > 0 && checks.every((c) => c.state === 'up') && open.length === 0 ? true : undefined;
  });
  await sleep(Math.random() * s.running.config.monitoring.intervalSeconds * 1000);
}

/** SIGSTOPs demo/prod's web process with its tree; resume() continues what is still there (once). */
async function hang(
  s: BenchSteward,
  note = '',
): Promise<{ pid: number; stoppedAt: number; resume: () => void }> {
  const pid = await webPid(s);
  const tree = await withDescendants(pid);
  const stoppedAt = Date.now();
  for (const p of tree) process.kill(p, 'SIGSTOP');
  log(`SIGSTOP web process ${pid} and its ${tree.length - 1} descendants${note}`);
  let resumed = false;
  return {
    pid,
    stoppedAt,
    resume: () => {
      if (resumed) return;
      resumed = true;
      for (const p of tree) {
        try {
          process.kill(p, 'SIGCONT');
        } catch {
          // exited meanwhile (replaced)
        }
      }
    },
  };
}

async function stopTrial(s: BenchSteward, mail: { messages: readonly ReceivedMail[] }): Promise<Trial> {
  const services = s.running.steward.services;
  await settled(s);
  const { stoppedAt, resume } = await hang(s);
  try {
    const fired = await until('the FIRING email', 300_000, () =>
      mail.messages.find((m) => m.at >= stoppedAt && about(m, 'FIRING')),
    );
    const alert = (await services.alerts.list({ tenant, stage })).find(
      (a) => a.severity === 'critical' && Date.parse(a.startedAt) >= stoppedAt,
    );
    log(`FIRING email after ${((fired.at - stoppedAt) / 1000).toFixed(1)} s: ${fired.subject}`);
    resume();
    const resumedAt = Date.now();
    const resolved = await until('the RESOLVED email', 300_000, () =>
      mail.messages.find((m) => m.at >= resumedAt && about(m, 'RESOLVED')),
    );
    return {
      stoppedAt: new Date(stoppedAt).toISOString(),
      secondsUntilEmail: round((fired.at - stoppedAt) / 1000, 1),
      alert: alert
        ? {
            rule: alert.rule,
            summary: alert.summary,
            startedAfterSeconds: since(stoppedAt, alert.startedAt),
            firedAfterSeconds: since(stoppedAt, alert.firedAt),
            firstNotifiedAfterSeconds: since(stoppedAt, alert.firstNotifiedAt),
          }
        : null,
      secondsUntilResolvedEmail: round((resolved.at - resumedAt) / 1000, 1),
    };
  } finally {
    resume();
  }
}

/** With a healing rule: the process is restarted while the alert is pending, and nobody is told. */
async function healTrial(
  s: BenchSteward,
  url: string,
  mail: { messages: readonly ReceivedMail[] },
): Promise<Record<string, unknown>> {
  const services = s.running.steward.services;
  await settled(s);
  const { pid, stoppedAt, resume } = await hang(s, ' (self-healing on)');
  try {
    // Serving again: a new process answers through the gateway.
    const servingAt = await until('prod serving again', 300_000, async () =>
      (await get(`${url}/healthz`, 2000)).status === 200 ? Date.now() : undefined,
    );
    const newPid = await webPid(s, pid);
    const alert = await until('the alert resolved', 300_000, async () => {
      const a = (await services.alerts.list({ tenant, stage })).find(
        (x) => x.severity === 'critical' && Date.parse(x.startedAt) >= stoppedAt,
      );
      return a?.status === 'resolved' ? a : undefined;
    }).catch(() => undefined);
    // Time for an email that would have been sent at resolution.
    await sleep(5000);
    const emails = mail.messages.filter(
      (m) => m.at >= stoppedAt && (about(m, 'FIRING') || about(m, 'RESOLVED')),
    );
    return {
      stoppedAt: new Date(stoppedAt).toISOString(),
      replacedBy: newPid === pid ? 'the same process' : 'a new process',
      secondsUntilServing: round((servingAt - stoppedAt) / 1000, 1),
      alert: alert
        ? {
            rule: alert.rule,
            status: alert.status,
            firedAt: alert.firedAt,
            startedAfterSeconds: since(stoppedAt, alert.startedAt),
            resolvedAfterSeconds: since(stoppedAt, alert.resolvedAt),
          }
        : null,
      resolvedWithoutEmail: alert !== undefined && alert.firedAt === null && emails.length === 0,
      emails: emails.map((m) => m.subject),
    };
  } finally {
    resume();
  }
}

const healingRule = {
  name: 'web-heal',
  match: { tenant, stage },
  condition: 'down',
  for: '60s',
  severity: 'critical',
  heal: 'restart-process',
} as const;

async function run(mode: string): Promise<Record<string, unknown>> {
  const mail = await smtpReceiver();
  const monitoring =
    mode === 'fast' ? { intervalSeconds: 5, timeoutMs: fastTimeoutMs } : ({} as Record<string, number>);
  const alerts = mode === 'healing' ? { rules: [healingRule, ...defaultRules] } : {};
  let result: Record<string, unknown> = { mode, skipped: 'not run' };
  try {
    await withSteward(
      `detect-${mode}`,
      async (s) => {
        const { url } = await prepare(s);
        const runs: unknown[] = [];
        for (let i = 0; i < trials; i++) {
          runs.push(mode === 'healing' ? await healTrial(s, url, mail) : await stopTrial(s, mail));
          log(`${mode} trial ${i + 1}/${trials}: ${JSON.stringify(runs.at(-1))}`);
        }
        result = {
          mode,
          monitoring: s.running.config.monitoring,
          alerts: {
            groupWaitSeconds: s.running.config.alerts.groupWaitSeconds,
            passSeconds: s.running.config.alerts.passSeconds,
          },
          notifications: { pollSeconds: s.running.config.notifications.pollSeconds },
          trials: runs,
        };
      },
      {
        demo: true,
        print: false,
        overrides: {
          monitoring,
          alerts,
          notifications: { smtp: { host: '127.0.0.1', port: mail.port, from: 'steward@example.com' } },
        },
      },
    );
  } finally {
    await mail.close();
  }
  return result;
}

const loadAtStart = loadavg().map((l) => round(l, 2));
const results: Record<string, unknown> = {};
for (const mode of modes) {
  if (mode === 'healing' && !healingAvailable) {
    results[mode] = { skipped: 'self-healing (src/healing/) is not in this build' };
    continue;
  }
  log(`bench/detect: ${mode}`);
  results[mode] = await run(mode);
  if (process.exitCode) break;
}
const seconds = (mode: string): number[] =>
  ((results[mode] as { trials?: Trial[] } | undefined)?.trials ?? [])
    .map((t) => t.secondsUntilEmail)
    .filter((n): n is number => n !== null);
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'detect',
      how: 'SIGSTOP of demo/prod web process; the supervisor probe set to 300 s x 100, so it does not act',
      steward: {
        defaultsSecondsUntilEmail: seconds('defaults'),
        defaultsTargetSeconds: 90,
        fastSecondsUntilEmail: seconds('fast'),
        fastTargetSeconds: 15,
      },
      anchors,
      runs: results,
      machine: { loadAtStart, loadAtEnd: loadavg().map((l) => round(l, 2)) },
    },
    null,
    2,
  )}\n`,
);
