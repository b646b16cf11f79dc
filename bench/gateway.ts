/**
 * bench/gateway: what Steward's TLS gateway costs against the app reached
 * directly and against HAProxy doing the same job. Prints JSON.
 *
 * One stage (tenant `bench`, stage `prod`) runs the sample app; its web
 * process is the one backend of every run. wrk drives 1,000 keep-alive
 * connections (`-c 1000 -t 2 --latency`, no Lua script) at GET /api/me, the
 * app's cheapest route (no database query, so the app is not the limit):
 *
 * - direct:   plain HTTP to the web process's own port;
 * - steward:  HTTPS through Steward's gateway (in this process), which
 *             forwards to the stage's published endpoint (the stage proxy,
 *             also in this process), which forwards to the web process;
 * - haproxy:  HTTPS through HAProxy configured by this script like the
 *             gateway (TLS 1.2+, the same cipher list and curves, a
 *             certificate from Steward's CA for the same host, keep-alive
 *             and connection reuse to the backend, X-Forwarded-*, a request
 *             id, HSTS, the same timeouts, at most 256 connections to the
 *             web process like the stage proxy's pool);
 * - stageProxy: plain HTTP to the stage's published endpoint, to split the
 *             gateway's cost from the stage proxy's.
 *
 * Each is warmed up, then the runs alternate (direct, steward, haproxy,
 * stageProxy) BENCH_ROUNDS times (2); the better run of each counts. wrk
 * connects by name with SNI = Host = prod.bench.localhost, resolved to
 * 127.0.0.1 by a private /etc/hosts in wrk's own mount namespace (unshare),
 * so nothing on the machine changes. wrk and HAProxy come from Debian and
 * are installed when missing.
 *
 * Usage: npm run bench:gateway  (BENCH_SECONDS=10, BENCH_WARMUP_SECONDS=3,
 * BENCH_ROUNDS=2, BENCH_CONNECTIONS=1000, BENCH_HAPROXY_THREADS unset: HAProxy's default)
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../src/core/config.ts';
import { tlsCiphers, tlsSettings } from '../src/gateway/tls.ts';
import { ensureCa, issueServerCertificate } from '../src/tls/ca.ts';
import { freePort } from '../src/up.ts';
import {
  createTenant,
  deploy,
  get,
  log,
  round,
  sleep,
  stageView,
  uploadRelease,
  variant,
  withSteward,
} from './support.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 1000);
const haproxyThreads = process.env.BENCH_HAPROXY_THREADS
  ? Number(process.env.BENCH_HAPROXY_THREADS)
  : undefined;
const threads = 2;
const tenant = 'bench';
const stage = 'prod';
const host = `${stage}.${tenant}.localhost`;
const path = '/api/me';
/** The stage proxy keeps at most this many connections to one web process; HAProxy gets the same. */
const backendConnections = 256;
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * Rate and connection limits raised far above what wrk sends, so that they
 * never shape the result; passed only when the config schema has them.
 */
const raisedLimits = {
  addressRatePerSecond: 10_000_000,
  addressBurst: 10_000_000,
  tenantRatePerSecond: 10_000_000,
  tenantBurst: 10_000_000,
  maxConnectionsPerAddress: 100_000,
};
const limitsExposed = configSchema.safeParse({ dataDir: '/x', gateway: { limits: raisedLimits } }).success;

type Mode = 'direct' | 'steward' | 'haproxy' | 'stageProxy';
const modes: readonly Mode[] = ['direct', 'steward', 'haproxy', 'stageProxy'];

interface WrkResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p75Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** CPU seconds spent during the run by each party. */
  readonly cpuSeconds: Record<string, number>;
}

// ---------------------------------------------------------------- tools

function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function ensureTools(): void {
  const missing = ['wrk', 'haproxy'].filter((c) => !have(c));
  if (missing.length === 0) return;
  log(`bench/gateway: ${missing.join(' and ')} missing; installing wrk haproxy with apt-get`);
  const run = (args: string[]): void => {
    const result = spawnSync('apt-get', args, {
      stdio: ['ignore', 2, 2],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${result.status})`);
  };
  run(['update']);
  run(['install', '-y', '--no-install-recommends', 'haproxy', 'wrk']);
  for (const c of missing) if (!have(c)) throw new Error(`${c} still missing after apt-get install`);
}

function versionOf(command: string, args: string[]): string {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return `${out.stdout}${out.stderr}`.split('\n')[0]?.trim() ?? '';
}

// ---------------------------------------------------------------- CPU

/** utime+stime (self) and cutime+cstime (reaped children) of a process, in seconds. */
function cpuOf(pid: number | 'self'): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number): number => Number(fields[i] ?? 0);
    // Fields 14-17 of proc(5), counted from field 3 (state) at index 0.
    return { self: (n(11) + n(12)) / clockTicks, children: (n(13) + n(14)) / clockTicks };
  } catch {
    return { self: 0, children: 0 };
  }
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusy(): number {
  const [, ...ticks] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
  const n = ticks.map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  return (total - (n[3] ?? 0) - (n[4] ?? 0)) / clockTicks;
}

// ---------------------------------------------------------------- wrk

function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

function parseWrk(out: string): Omit<WrkResult, 'cpuSeconds'> {
  const pct = (p: string): number =>
    parseDuration(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  if (rps === undefined) throw new Error(`wrk printed no Requests/sec:\n${out}`);
  return {
    requestsPerSecond: Number(rps),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    p50Ms: pct('50'),
    p75Ms: pct('75'),
    p90Ms: pct('90'),
    p99Ms: pct('99'),
    maxMs: parseDuration(/^\s+Latency\s+\S+\s+\S+\s+(\S+)/m.exec(out)?.[1] ?? ''),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
  };
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

// ---------------------------------------------------------------- HAProxy

function haproxyConfig(o: { port: number; pem: string; backendPort: number; timeouts: Timeouts }): string {
  const t = o.timeouts;
  return `global
    maxconn 4096
${haproxyThreads ? `    nbthread ${haproxyThreads}\n` : ''}    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3
    ssl-default-bind-ciphers ${tlsCiphers
      .split(':')
      .filter((c) => !c.startsWith('TLS_'))
      .join(':')}
    ssl-default-bind-ciphersuites ${tlsCiphers
      .split(':')
      .filter((c) => c.startsWith('TLS_'))
      .join(':')}
    ssl-default-bind-curves ${tlsSettings.ecdhCurve}

defaults
    mode http
    option http-keep-alive
    option forwardfor
    http-reuse always
    timeout connect 5s
    timeout http-request ${t.headersMs}ms
    timeout client ${t.keepAliveMs}ms
    timeout http-keep-alive ${t.keepAliveMs}ms
    timeout server ${t.upstreamMs}ms

frontend gateway
    bind 127.0.0.1:${o.port} ssl crt ${o.pem}
    maxconn 4096
    http-request del-header forwarded
    http-request del-header x-forwarded-for
    http-request del-header x-real-ip
    http-request del-header x-request-id
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Forwarded-Host %[req.hdr(host),field(1,:)]
    http-request set-header X-Request-Id %[uuid()]
    http-response set-header Strict-Transport-Security max-age=31536000
    default_backend stage

backend stage
    server web 127.0.0.1:${o.backendPort} maxconn ${backendConnections}
`;
}

interface Timeouts {
  readonly headersMs: number;
  readonly keepAliveMs: number;
  readonly upstreamMs: number;
}

function waitPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------- the run

ensureTools();
const wrkVersion = versionOf('wrk', ['-v']);
const haproxyVersion = versionOf('haproxy', ['-v']);

await withSteward(
  'gateway',
  async ({ api, running, dataDir }, onCleanup) => {
    const work = await mkdtemp(join(dataDir, 'gateway-bench-'));
    const children = new Set<ChildProcess>();
    onCleanup(() => Promise.all([...children].map(stopChild)));

    log('registering the sample app, creating tenant bench, deploying to prod');
    // The sample app as released, but with room under 1,000 connections: its health probe (1 s
    // timeout, 3 failures) and 256 MB memory limit would have the supervisor restart it mid-run,
    // which measures self-healing, not the proxies in front of it.
    const relaxed = await variant((yaml) => {
      const changed = yaml
        .replace('timeoutSeconds: 1', 'timeoutSeconds: 10')
        .replace('failureThreshold: 3', 'failureThreshold: 30')
        .replace('memoryMb: 256', 'memoryMb: 2048');
      if ((changed.match(/: (10|30|2048)\n/g) ?? []).length < 3) {
        throw new Error("the sample app's steward.yaml changed: cannot relax its probe and memory limit");
      }
      return changed;
    });
    onCleanup(() => rm(relaxed, { recursive: true, force: true }));
    await uploadRelease(api, relaxed, '1.0.0');
    await createTenant(api, tenant, [stage]);
    await deploy(api, tenant, stage, '1.0.0');
    const view = await stageView(api, tenant, stage);
    const web = view.processes.find((p) => p.process === 'web');
    if (!view.url || !web?.port || !web.pid)
      throw new Error(`stage ${tenant}/${stage} has no URL or web port`);
    const publishedPort = Number(new URL(view.url).port);
    const gatewayPort = running.steward.gatewayAddress?.port;
    if (!gatewayPort) throw new Error('the gateway does not run');
    const webPid = web.pid;

    // Name resolution for wrk: a private /etc/hosts in wrk's own mount namespace.
    const hostsFile = join(work, 'hosts');
    await writeFile(hostsFile, `127.0.0.1 localhost ${host}\n::1 localhost\n`);
    const privateHosts =
      spawnSync(
        'unshare',
        ['-m', 'sh', '-c', `mount --bind ${hostsFile} /etc/hosts && getent hosts ${host}`],
        {
          stdio: 'ignore',
        },
      ).status === 0;
    const systemResolves = spawnSync('getent', ['hosts', host], { stdio: 'ignore' }).status === 0;
    const resolution = systemResolves ? 'system' : privateHosts ? 'private /etc/hosts (unshare -m)' : 'none';
    // Without a name, wrk connects to 127.0.0.1 and sends Host; its SNI is then 127.0.0.1.
    const tlsHost = systemResolves || privateHosts ? host : '127.0.0.1';
    log(`wrk reaches ${host} by ${resolution}`);

    // HAProxy: a certificate from Steward's CA for the same host, TLS like the gateway's.
    const ca = await ensureCa(dataDir);
    const issued = await issueServerCertificate(ca, [host]);
    const pem = join(work, 'haproxy.pem');
    await writeFile(pem, `${issued.chainPem.trim()}\n${issued.keyPem.trim()}\n`, { mode: 0o600 });
    const haproxyPort = await freePort(18443);
    const cfg = join(work, 'haproxy.cfg');
    const timeouts: Timeouts = {
      headersMs: 20_000,
      keepAliveMs: 30_000,
      upstreamMs: running.config.gateway.upstreamTimeoutSeconds * 1000,
    };
    await writeFile(cfg, haproxyConfig({ port: haproxyPort, pem, backendPort: web.port, timeouts }));
    const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy rejects its config: ${check.stderr}${check.stdout}`);
    const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(haproxy);
    haproxy.stderr.on('data', (chunk: Buffer) => log(`haproxy: ${chunk.toString().trim()}`));
    await Promise.race([
      waitPort(haproxyPort, 10_000),
      new Promise((_, reject) =>
        haproxy.once('exit', (code) => reject(new Error(`haproxy exited (${code}) before it listened`))),
      ),
    ]);
    const haproxyPid = haproxy.pid ?? 0;
    log(`haproxy ${haproxyPid} on 127.0.0.1:${haproxyPort}, backend web 127.0.0.1:${web.port}`);

    const urls: Record<Mode, { url: string; header?: string }> = {
      direct: { url: `http://127.0.0.1:${web.port}${path}` },
      steward: { url: `https://${tlsHost}:${gatewayPort}${path}`, header: `Host: ${host}` },
      haproxy: { url: `https://${tlsHost}:${haproxyPort}${path}`, header: `Host: ${host}` },
      stageProxy: { url: `http://127.0.0.1:${publishedPort}${path}` },
    };
    // Sanity: each path answers 200 before it is measured (the gateway one through wrk itself below).
    for (const mode of ['direct', 'stageProxy'] as const) {
      const { status } = await get(urls[mode].url);
      if (status !== 200) throw new Error(`${mode} ${urls[mode].url} answered ${status}`);
    }

    const loadAtStart = loadavg().map((l) => round(l, 2));
    const wrk = async (mode: Mode, duration: number): Promise<WrkResult> => {
      const { url, header } = urls[mode];
      const args = [
        `-c ${connections}`,
        `-t ${threads}`,
        `-d ${duration}s`,
        '--latency',
        '--timeout 10s',
        ...(header && tlsHost !== host ? [`-H ${shellQuote(header)}`] : []),
        shellQuote(url),
      ].join(' ');
      const script =
        (privateHosts && !systemResolves ? `mount --bind ${shellQuote(hostsFile)} /etc/hosts && ` : '') +
        `(ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)") && exec wrk ${args}`;
      const busyBefore = machineBusy();
      const before = {
        steward: cpuOf('self'),
        app: cpuOf(webPid),
        haproxy: cpuOf(haproxyPid),
      };
      const child = spawn('unshare', ['-m', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const killer = setTimeout(() => child.kill('SIGKILL'), (duration + 60) * 1000);
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      clearTimeout(killer);
      children.delete(child);
      if (code !== 0) throw new Error(`wrk for ${mode} exited ${code}: ${err}${out}`);
      const busy = machineBusy() - busyBefore;
      const after = {
        steward: cpuOf('self'),
        app: cpuOf(webPid),
        haproxy: cpuOf(haproxyPid),
      };
      const parsed = parseWrk(out);
      const party = {
        steward: after.steward.self - before.steward.self,
        app: after.app.self - before.app.self,
        haproxy: after.haproxy.self - before.haproxy.self,
        // wrk is reaped by this process: its CPU shows in our children's time.
        wrk: after.steward.children - before.steward.children,
      };
      const cpuSeconds: Record<string, number> = {
        steward: round(party.steward, 2),
        app: round(party.app, 2),
        haproxy: round(party.haproxy, 2),
        wrk: round(party.wrk, 2),
        machine: round(busy, 2),
        // Whatever else ran on the machine meanwhile (other processes, the kernel's softirq work).
        others: round(busy - party.steward - party.app - party.haproxy - party.wrk, 2),
      };
      log(
        `${mode}: ${parsed.requestsPerSecond.toFixed(0)} req/s, p50 ${parsed.p50Ms} ms, p99 ${parsed.p99Ms} ms, ` +
          `non-2xx ${parsed.non2xx}, socket errors ${JSON.stringify(parsed.socketErrors)}, cpu ${JSON.stringify(cpuSeconds)}`,
      );
      return { ...parsed, cpuSeconds };
    };

    const runs: Record<Mode, WrkResult[]> = { direct: [], steward: [], haproxy: [], stageProxy: [] };
    log(`warm-up: ${warmupSeconds} s each`);
    for (const mode of modes) {
      await wrk(mode, warmupSeconds);
      await sleep(1000);
    }
    for (let r = 0; r < rounds; r++) {
      log(`round ${r + 1} of ${rounds}: ${seconds} s each`);
      for (const mode of modes) {
        runs[mode].push(await wrk(mode, seconds));
        await sleep(1000);
      }
    }
    const health = await get(`http://127.0.0.1:${web.port}/healthz`);
    const stewardAfter = (await stageView(api, tenant, stage)).processes.find((p) => p.process === 'web');

    const best = (mode: Mode): WrkResult =>
      runs[mode].reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    const summary = (mode: Mode) => {
      const b = best(mode);
      return {
        url: urls[mode].url,
        requestsPerSecond: Math.round(b.requestsPerSecond),
        p50Ms: b.p50Ms,
        p75Ms: b.p75Ms,
        p90Ms: b.p90Ms,
        p99Ms: b.p99Ms,
        maxMs: b.maxMs,
        requests: b.requests,
        non2xx: b.non2xx,
        socketErrors: b.socketErrors,
        cpuSeconds: b.cpuSeconds,
        cpuCoresUsed: Object.fromEntries(
          Object.entries(b.cpuSeconds).map(([k, v]) => [k, round(v / seconds, 2)]),
        ),
        allRuns: runs[mode].map((x) => ({
          requestsPerSecond: Math.round(x.requestsPerSecond),
          p50Ms: x.p50Ms,
          p99Ms: x.p99Ms,
          non2xx: x.non2xx,
          socketErrors:
            x.socketErrors.connect + x.socketErrors.read + x.socketErrors.write + x.socketErrors.timeout,
          cpuSeconds: x.cpuSeconds,
        })),
      };
    };
    const direct = best('direct');
    const steward = best('steward');
    const ha = best('haproxy');
    const throughputRatio = round(steward.requestsPerSecond / ha.requestsPerSecond, 3);
    const addedP99 = round(steward.p99Ms - direct.p99Ms, 2);
    const failures = modes.reduce(
      (n, m) =>
        n +
        runs[m].reduce(
          (k, x) =>
            k +
            x.non2xx +
            x.socketErrors.connect +
            x.socketErrors.read +
            x.socketErrors.write +
            x.socketErrors.timeout,
          0,
        ),
      0,
    );

    return {
      bench: 'gateway',
      machine: { cpus: cpus().length, node: process.version, wrk: wrkVersion, haproxy: haproxyVersion },
      setup: {
        backend: `the sample app's web process of ${tenant}/${stage} (one Node process), GET ${path} (no database query); health probe timeout 10 s x 30 and memory limit 2 GB so that the supervisor leaves it alone under load`,
        load: `wrk -c ${connections} -t ${threads} -d ${seconds}s --latency --timeout 10s, no Lua script, keep-alive`,
        order: `warm-up ${warmupSeconds} s each, then ${rounds} rounds of ${modes.join(', ')}; the better run of each counts`,
        host,
        sni: tlsHost,
        nameResolution: resolution,
        tls: 'TLS 1.2/1.3, the gateway cipher list and curves on both; ECDSA P-256 certificates from Steward CA',
        steward: {
          port: gatewayPort,
          path: 'gateway (TLS) -> stage proxy (published endpoint) -> web process; both proxies in the Steward process',
          limits: limitsExposed
            ? { configured: raisedLimits }
            : 'config has no gateway.limits yet (nothing to raise); the guard with rate limits is not wired into up() in this version',
        },
        haproxy: {
          port: haproxyPort,
          threads: haproxyThreads ?? 'default (one per CPU)',
          backendMaxConnections: backendConnections,
          config:
            'http-reuse always, option http-keep-alive, option forwardfor (client copies dropped), X-Forwarded-Proto/Host, X-Request-Id uuid, HSTS, timeouts http-request 20s, client/keep-alive 30s, server = gateway upstream timeout',
        },
      },
      results: {
        direct: summary('direct'),
        steward: summary('steward'),
        haproxy: summary('haproxy'),
        stageProxy: summary('stageProxy'),
      },
      targets: {
        stewardOverHaproxyThroughput: throughputRatio,
        throughputTarget: 0.9,
        throughputMet: throughputRatio >= 0.9,
        stewardAddedP99Ms: addedP99,
        addedP99TargetMs: 2,
        addedP99Met: addedP99 <= 2,
        haproxyAddedP99Ms: round(ha.p99Ms - direct.p99Ms, 2),
      },
      failedRequests: failures,
      loadAverageAtStart: loadAtStart,
      limitedBy: [
        `machine: ${cpus().length} cores shared by wrk (TLS client, ${round(steward.cpuSeconds.wrk ?? 0, 1)} CPU s in the best Steward run), the proxy under test and the app; cpuSeconds.others is what other processes on the machine took meanwhile`,
        `Steward: one Node event loop does TLS, the gateway hop and the stage proxy hop (two HTTP parses and re-serialisations per request); it used ${round((steward.cpuSeconds.steward ?? 0) / seconds, 2)} of a core in its best run`,
        `HAProxy: C, ${haproxyThreads ?? 'one thread per core'}, one hop straight to the web process; it used ${round((ha.cpuSeconds.haproxy ?? 0) / seconds, 2)} cores in its best run`,
        'p99 of every run includes connection set-up: wrk opens 1,000 connections at once, and a listener whose accept queue overflows drops SYNs, which the client retries after 1 s (Node listeners default to a backlog of 511, HAProxy to its maxconn)',
      ],
      appHealthyAfter: health.status === 200,
      appRestarts: stewardAfter?.restarts ?? null,
    };
  },
  {
    overrides: {
      gateway: { port: 0, httpPort: 0, ...(limitsExposed ? { limits: raisedLimits } : {}) },
    },
  },
);
