/**
 * bench/gateway: what Steward's data plane (HAProxy with Steward's rendered
 * config) costs against plain HAProxy and against the app reached directly.
 * Prints JSON.
 *
 * One backend process for every mode: a Node HTTP server (like a stage's web
 * process) answering GET /api/me with a small JSON body, in a child process.
 * - direct:  plain HTTP/1.1 to the backend's port (the app speaks plain HTTP
 *            on loopback behind the edge; TLS is the edge's job, so there is
 *            no direct HTTP/2);
 * - haproxy: HTTPS through HAProxy with a minimal hand-written config (one
 *            frontend, one backend, the same certificate, TLS 1.2/1.3 with
 *            Steward's cipher list and curves, ALPN h2,http/1.1);
 * - steward: HTTPS through HAProxy with Steward's rendered config and its
 *            default rules (test/dataplane/support.ts's fixture, every rate
 *            and connection limit raised above the load, which all comes from
 *            one address), the route in the map, the app as a dynamic server,
 *            the certificate through the runtime API and the crt-list, the
 *            access log through HAProxy's ring into a receiver in this process
 *            that counts every request into the gateway metrics;
 * - stewardNoLog: the same without the access log, at 64 connections.
 * Both HAProxies run the same way (master-worker, the Haproxy driver, one
 * thread per core). At 64 and 1,000 connections: HTTP/1.1 with wrk
 * (`-t 2 --latency`), HTTP/2 with h2load (`-t 2 -m 1`: one stream in flight
 * per connection, like wrk; p50/p99 from its per-request log). Runs
 * alternate between modes, BENCH_ROUNDS times; the better run counts.
 *
 * Then, on Steward's data plane: route change to first routed request
 * (`add map` to the first 200), 10,000 routes (`prepare/add/commit map` time,
 * HAProxy's memory, per-request cost against 10 routes), and reloads per
 * 1,000 route changes.
 *
 * wrk and h2load connect by name (SNI = Host = prod.bench.localhost), which
 * resolves to 127.0.0.1 through a private /etc/hosts in their own mount
 * namespace (unshare), so nothing on the machine changes.
 *
 * Usage: npm run bench:gateway  (BENCH_SECONDS=4, BENCH_ROUNDS=3,
 * BENCH_CONNECTIONS=64,1000; wrk, h2load (nghttp2-client) and haproxy are
 * installed with apt-get when missing)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { AccessLogReceiver } from '../src/dataplane/access-log-receiver.ts';
import { countRequests } from '../src/dataplane/access-log-stream.ts';
import { resolveGatewayLimits } from '../src/gateway/limits.ts';
import { Haproxy } from '../src/dataplane/index.ts';
import { createGatewayMetrics } from '../src/gateway/metrics.ts';
import { tlsCiphers } from '../src/gateway/tls.ts';
import { lookupUser } from '../src/system/exec.ts';
import { freePort } from '../src/system/ports.ts';
import { issueServerCertificate } from '../src/tls/ca.ts';
import { dataPlaneFixture, get } from '../test/dataplane/support.ts';
import { log, percentile, round, sleep } from './support.ts';
import { cpuOf, loadGenerator, type LoadResult } from './gateway-load.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '64,1000').split(',').map(Number);
const host = 'prod.bench.localhost';
const path = '/api/me';
const backendName = 'st_bench-prod';

type Mode = 'direct' | 'haproxy' | 'steward' | 'stewardNoLog';
type Protocol = 'http1' | 'http2';

// ---------------------------------------------------------------- tools

function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function ensureTools(): void {
  const packages: Record<string, string> = { wrk: 'wrk', h2load: 'nghttp2-client', haproxy: 'haproxy' };
  const missing = Object.keys(packages).filter((c) => !have(c));
  if (missing.length === 0) return;
  const names = missing.map((c) => packages[c] ?? c);
  log(`bench/gateway: installing ${names.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...names],
  ]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${result.status})`);
  }
}

const versionOf = (command: string, args: string[]): string => {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return `${out.stdout}${out.stderr}`.split('\n')[0]?.trim() ?? '';
};

/** The backend: one Node process, plain HTTP, a small JSON answer; a deep accept queue for 1,000 connections. */
function startBackend(port: number): Promise<ChildProcess> {
  const code = `
    const body = JSON.stringify({ user: 'bench', tenant: 'bench', stage: 'prod' });
    require('node:http')
      .createServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .listen({ port: ${port}, host: '127.0.0.1', backlog: 4096 }, () => process.stdout.write('ready\\n'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (status) => reject(new Error(`the backend exited (${status})`)));
    child.stdout?.once('data', () => resolve(child));
  });
}

/** Plain HAProxy: what an operator would write by hand for one site. */
function plainConfig(o: { port: number; pem: string; backendPort: number; adminSocket: string }): string {
  const tls12 = tlsCiphers.split(':').filter((c) => !c.startsWith('TLS_'));
  const tls13 = tlsCiphers.split(':').filter((c) => c.startsWith('TLS_'));
  return [
    'global',
    `    stats socket ${o.adminSocket} mode 600 level admin`,
    '    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 no-tls-tickets',
    `    ssl-default-bind-ciphers ${tls12.join(':')}`,
    `    ssl-default-bind-ciphersuites ${tls13.join(':')}`,
    '    ssl-default-bind-curves X25519:P-256:P-384',
    'defaults',
    '    mode http',
    '    option http-keep-alive',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 60s',
    'frontend fe',
    `    bind 127.0.0.1:${o.port} ssl crt ${o.pem} alpn h2,http/1.1`,
    '    default_backend be',
    'backend be',
    `    server web 127.0.0.1:${o.backendPort}`,
    '',
  ].join('\n');
}

function workerPid(haproxy: Haproxy): Promise<number> {
  return haproxy.showProc().then((view) => {
    const pid = view.workers[0]?.pid;
    if (pid === undefined) throw new Error('HAProxy has no worker');
    return pid;
  });
}

function rssMb(pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round(Number(line?.[1] ?? 0) / 1024, 1);
}

// ---------------------------------------------------------------- the run

ensureTools();
const work = mkdtempSync('/tmp/st-bench-gw-');
const children: ChildProcess[] = [];
const haproxies: Haproxy[] = [];
let receiver: AccessLogReceiver | undefined;
const dirs: string[] = [work];

async function main(): Promise<Record<string, unknown>> {
  const backendPort = await freePort();
  const backend = await startBackend(backendPort);
  children.push(backend);

  // Steward's data plane: the rendered config, HAProxy from the driver, the app as a dynamic
  // server, the certificate through the runtime API, 10 routes in the map; once with the access
  // log into this process, once without (to tell the log's cost from the rules').
  // HAProxy's workers connect to the access log socket as their own user: every directory above it lets them pass.
  const socketDir = mkdtempSync('/tmp/st-bench-gw-run-');
  dirs.push(socketDir);
  chmodSync(socketDir, 0o711);
  const haproxyUser = lookupUser('haproxy');
  const metrics = createGatewayMetrics();
  receiver = new AccessLogReceiver({
    socketPath: join(socketDir, 'access.sock'),
    ...(haproxyUser ? { owner: haproxyUser } : {}),
    onRecord: countRequests(metrics, (id) =>
      id === 'bench-prod' ? { tenant: 'bench', stage: 'prod' } : undefined,
    ),
  });
  await receiver.start();
  const tenRoutes = Array.from({ length: 10 }, (_, n) => ({
    key: n === 0 ? host : `r${n}.bench.localhost`,
    value: backendName,
  }));
  let pemText = '';
  const stewardDataPlane = async (accessLog: string | undefined) => {
    // The default rules, with every rate and connection limit raised above the load (all of it comes from one address).
    const limits = resolveGatewayLimits({
      addressRatePerSecond: 10_000_000,
      addressBurst: 100_000_000,
      tenantRatePerSecond: 10_000_000,
      tenantBurst: 100_000_000,
      maxConnectionsPerAddress: 1_000_000,
    });
    const fixture = await dataPlaneFixture([{ name: backendName, tenant: 'bench' }], {
      limits,
      ...(accessLog ? { accessLog } : {}),
    });
    dirs.push(fixture.dir);
    const haproxy = new Haproxy({
      configFile: fixture.configFile,
      pidFile: join(fixture.dir, 'haproxy.pid'),
      masterSocket: join(fixture.dir, 'master.sock'),
      adminSocket: fixture.state.files.adminSocket,
      logFile: join(fixture.dir, 'haproxy.log'),
    });
    haproxies.push(haproxy);
    await haproxy.start();
    const issued = await issueServerCertificate(fixture.ca, [host]);
    pemText = `${issued.chainPem.trim()}\n${issued.keyPem.trim()}\n`;
    const certFile = join(fixture.dir, 'bench.pem');
    await haproxy.api.putCertificate(certFile, pemText, { isNew: true });
    await haproxy.api.addCrtListEntry(fixture.state.files.crtList, certFile, [host]);
    await haproxy.api.addServer(backendName, 'web', '127.0.0.1', backendPort);
    await haproxy.api.setServerState(backendName, 'web', 'ready');
    await haproxy.api.replaceMap(fixture.state.files.routesMap, tenRoutes);
    return { haproxy, port: fixture.state.https.port, routesMap: fixture.state.files.routesMap };
  };
  const stewardNoLog = await stewardDataPlane(undefined);
  const stewardLogged = await stewardDataPlane(receiver.socketPath);
  const steward = stewardLogged.haproxy;
  const routesMap = stewardLogged.routesMap;

  // Plain HAProxy with the same certificate.
  const pem = join(work, 'plain.pem');
  writeFileSync(pem, pemText, { mode: 0o600 });
  const plainPort = await freePort();
  const plainFiles = {
    configFile: join(work, 'plain.cfg'),
    pidFile: join(work, 'plain.pid'),
    masterSocket: join(work, 'plain-master.sock'),
    adminSocket: join(work, 'plain-admin.sock'),
    logFile: join(work, 'plain.log'),
  };
  writeFileSync(
    plainFiles.configFile,
    plainConfig({ port: plainPort, pem, backendPort, adminSocket: plainFiles.adminSocket }),
  );
  const plain = new Haproxy(plainFiles);
  haproxies.push(plain);
  await plain.start();

  const stewardPort = stewardLogged.port;
  const ports: Record<Exclude<Mode, 'direct'>, number> = {
    haproxy: plainPort,
    steward: stewardPort,
    stewardNoLog: stewardNoLog.port,
  };
  for (const [mode, port] of Object.entries(ports)) {
    const answer = await get(port, host, path);
    if (answer.status !== 200)
      throw new Error(`${mode} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  }
  const pids: Record<Mode, number> = {
    direct: backend.pid ?? 0,
    haproxy: await workerPid(plain),
    steward: await workerPid(steward),
    stewardNoLog: await workerPid(stewardNoLog.haproxy),
  };
  const load = loadGenerator({ work, host });
  const urls: Record<Mode, string> = {
    direct: `http://127.0.0.1:${backendPort}${path}`,
    haproxy: `https://${host}:${plainPort}${path}`,
    steward: `https://${host}:${stewardPort}${path}`,
    stewardNoLog: `https://${host}:${stewardNoLog.port}${path}`,
  };
  const measure = async (mode: Mode, protocol: Protocol, connections: number, duration = seconds) => {
    const before = {
      app: cpuOf(pids.direct),
      haproxy: cpuOf(pids[mode]),
      self: cpuOf('self'),
    };
    const result = await load.run(protocol, urls[mode], connections, duration);
    const after = {
      app: cpuOf(pids.direct),
      haproxy: cpuOf(pids[mode]),
      self: cpuOf('self'),
    };
    const cpuCores = {
      app: round((after.app.self - before.app.self) / duration, 2),
      ...(mode === 'direct'
        ? {}
        : { haproxy: round((after.haproxy.self - before.haproxy.self) / duration, 2) }),
      ...(mode === 'steward'
        ? { accessLogReceiver: round((after.self.self - before.self.self) / duration, 2) }
        : {}),
      loadGenerator: round((after.self.children - before.self.children) / duration, 2),
    };
    log(
      `${protocol} c=${connections} ${mode}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, failed ${result.failed}, cores ${JSON.stringify(cpuCores)}`,
    );
    return { ...result, cpuCores };
  };

  // ---- throughput and latency
  const plan: [Protocol, number, Mode[]][] = [];
  for (const connections of connectionCounts) {
    // Without the access log only at 64 connections, where the targets are.
    const noLog: Mode[] = connections === 64 ? ['stewardNoLog'] : [];
    plan.push(['http1', connections, ['direct', 'haproxy', 'steward', ...noLog]]);
    plan.push(['http2', connections, ['haproxy', 'steward', ...noLog]]);
  }
  log('warm-up: 1 s each');
  for (const [protocol, connections, modes] of plan)
    for (const mode of modes) await measure(mode, protocol, Math.min(connections, 64), 1);
  const loadAtStart = loadavg().map((l) => round(l, 2));
  const received0 = receiver.counts().received;
  const runs = new Map<string, (LoadResult & { cpuCores: Record<string, number> })[]>();
  for (let r = 0; r < rounds; r += 1) {
    log(`round ${r + 1} of ${rounds}: ${seconds} s each`);
    for (const [protocol, connections, modes] of plan) {
      for (const mode of modes) {
        const key = `${protocol}/${connections}/${mode}`;
        runs.set(key, [...(runs.get(key) ?? []), await measure(mode, protocol, connections)]);
        await sleep(500);
      }
    }
  }
  const stewardRequests = [...runs.entries()]
    .filter(([key]) => key.endsWith('/steward'))
    .reduce((n, [, list]) => n + list.reduce((k, x) => k + x.requests, 0), 0);
  await sleep(1_000);
  const accessLog = {
    ...receiver.counts(),
    requestsSent: stewardRequests,
    received: receiver.counts().received - received0,
  };

  const best = (key: string) => {
    const list = runs.get(key) ?? [];
    const top = list.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    return {
      requestsPerSecond: Math.round(top.requestsPerSecond),
      p50Ms: top.p50Ms,
      p99Ms: top.p99Ms,
      failed: top.failed,
      cpuCores: top.cpuCores,
      // CPU per request is steadier than throughput on a shared machine.
      cpuMicrosecondsPerRequest: Object.fromEntries(
        Object.entries(top.cpuCores).map(([party, cores]) => [
          party,
          round((cores * 1e6) / Math.max(1, top.requestsPerSecond), 1),
        ]),
      ),
      allRuns: list.map((x) => ({
        requestsPerSecond: Math.round(x.requestsPerSecond),
        p50Ms: x.p50Ms,
        p99Ms: x.p99Ms,
      })),
    };
  };
  const results: Record<string, Record<string, unknown>> = {};
  const targets: Record<string, unknown> = {};
  for (const [protocol, connections, modes] of plan) {
    const table: Record<string, ReturnType<typeof best>> = {};
    for (const mode of modes) table[mode] = best(`${protocol}/${connections}/${mode}`);
    const ha = table.haproxy;
    const st = table.steward;
    const noLog = table.stewardNoLog;
    if (!ha || !st) throw new Error(`no haproxy or steward run for ${protocol} at ${connections}`);
    const throughput = round(st.requestsPerSecond / ha.requestsPerSecond, 3);
    const addedP99Ms = round(st.p99Ms - ha.p99Ms, 2);
    (results[protocol] ??= {})[`c${connections}`] = {
      ...table,
      stewardOverHaproxyThroughput: throughput,
      stewardAddedP50Ms: round(st.p50Ms - ha.p50Ms, 2),
      stewardAddedP99Ms: addedP99Ms,
      ...(noLog
        ? {
            stewardNoLogOverHaproxyThroughput: round(noLog.requestsPerSecond / ha.requestsPerSecond, 3),
            stewardNoLogAddedP99Ms: round(noLog.p99Ms - ha.p99Ms, 2),
          }
        : {}),
    };
    if (connections === 64) {
      targets[protocol] = {
        throughputRatio: throughput,
        throughputMet: throughput >= 0.9,
        addedP99Ms,
        addedP99Met: addedP99Ms <= 2,
      };
    }
  }

  // ---- route change to first routed request (runtime API `add map`, no reload)
  const routeChange = async (
    count: number,
    plane: { haproxy: Haproxy; port: number; routesMap: string } = stewardLogged,
  ) => {
    const samples: { apiMs: number; firstRequestMs: number }[] = [];
    // What one request on a new TLS connection takes anyway, to a host routed long before.
    const baseline: number[] = [];
    for (let n = 0; n < 5; n += 1) {
      const started = performance.now();
      await get(plane.port, host, path);
      baseline.push(performance.now() - started);
    }
    for (let n = 0; n < count; n += 1) {
      const name = `new${n}-${Date.now()}.bench.localhost`;
      const started = performance.now();
      await plane.haproxy.api.addMapEntry(plane.routesMap, name, backendName);
      const apiMs = performance.now() - started;
      for (;;) {
        const answer = await get(plane.port, name, path);
        if (answer.status === 200) break;
        if (performance.now() - started > 5_000) throw new Error(`${name} not routed after 5 s`);
      }
      samples.push({ apiMs, firstRequestMs: performance.now() - started });
      await plane.haproxy.api.delMapEntry(plane.routesMap, name);
    }
    const first = samples.map((sample) => sample.firstRequestMs);
    const apiMs = samples.map((sample) => sample.apiMs);
    return {
      changes: count,
      how: 'add map over the runtime API, then HTTPS requests on new connections until the first 200',
      apiCallP50Ms: round(percentile(apiMs, 50), 2),
      firstRoutedRequestP50Ms: round(percentile(first, 50), 2),
      firstRoutedRequestMaxMs: round(Math.max(...first), 2),
      newConnectionRequestP50Ms: round(percentile(baseline, 50), 2),
      targetMs: 1_000,
      met: Math.max(...first) <= 1_000,
    };
  };
  log('route changes (10 routes)');
  const routeChangeAt10 = await routeChange(20);

  // ---- reloads per 1,000 route changes
  log('1,000 route changes');
  const procBefore = await steward.showProc();
  const changesStarted = performance.now();
  for (let n = 0; n < 1_000; n += 1) {
    const name = `churn${n % 100}.bench.localhost`;
    if (n % 200 < 100) await steward.api.addMapEntry(routesMap, name, backendName);
    else await steward.api.delMapEntry(routesMap, name);
  }
  const changesMs = performance.now() - changesStarted;
  const procAfter = await steward.showProc();
  const reloads = {
    changes: 1_000,
    reloads: procAfter.master.reloads - procBefore.master.reloads,
    sameWorker: procAfter.workers[0]?.pid === procBefore.workers[0]?.pid,
    changesPerSecond: Math.round(1_000 / (changesMs / 1_000)),
    how: 'add map / del map over the runtime API (one connection per command), as the controller applies route changes',
  };

  // ---- 10,000 routes, on the data plane without the access log (the map lookup is what differs)
  log('10,000 routes: apply time, memory, per-request cost against 10 routes');
  const manyRoutes = Array.from({ length: 10_000 }, (_, n) => ({
    key: n === 0 ? host : `s${n}.t${n % 997}.bench.localhost`,
    value: backendName,
  }));
  const noLogApi = stewardNoLog.haproxy.api;
  await sleep(2_000);
  const rssAt10 = rssMb(pids.stewardNoLog);
  const applyStarted = performance.now();
  await noLogApi.replaceMap(stewardNoLog.routesMap, manyRoutes);
  const applyMs = performance.now() - applyStarted;
  const mapped = (await noLogApi.showMap(stewardNoLog.routesMap)).length;
  const rssAt10k = rssMb(pids.stewardNoLog);
  // Alternating 10 and 10,000 routes (a replace takes some 50 ms), the better run of each.
  type Measured = LoadResult & { cpuCores: Record<string, number> };
  const perRequest: Record<'routes10' | 'routes10000', Measured[]> = { routes10: [], routes10000: [] };
  for (let r = 0; r < rounds; r += 1) {
    for (const [key, entries] of [
      ['routes10', tenRoutes],
      ['routes10000', manyRoutes],
    ] as const) {
      await noLogApi.replaceMap(stewardNoLog.routesMap, entries);
      perRequest[key].push(await measure('stewardNoLog', 'http1', 64));
    }
  }
  const bestOf = (list: Measured[]) => {
    const top = list.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    // HAProxy's CPU per request: what a map lookup adds, steadier than throughput on a shared machine.
    const haproxyUs = (run: Measured) =>
      ((run.cpuCores.haproxy ?? 0) * 1e6) / Math.max(1, run.requestsPerSecond);
    return {
      requestsPerSecond: Math.round(top.requestsPerSecond),
      p50Ms: top.p50Ms,
      p99Ms: top.p99Ms,
      haproxyCpuMicrosecondsPerRequest: round(Math.min(...list.map(haproxyUs)), 1),
    };
  };
  const at10 = bestOf(perRequest.routes10);
  const at10k = bestOf(perRequest.routes10000);
  const routeChangeAt10k = await routeChange(10, stewardNoLog);
  const routes10k = {
    applyMs: Math.round(applyMs),
    how: 'prepare map, add map @version in 8 KiB payloads, commit map: requests see the old map or the new one, never a mix',
    entriesInHaproxy: mapped,
    haproxyWorkerRssMb: { routes10: rssAt10, routes10000: rssAt10k },
    http1c64: {
      routes10: at10,
      routes10000: at10k,
      throughputRatio: round(at10k.requestsPerSecond / at10.requestsPerSecond, 3),
    },
    routeChange: routeChangeAt10k,
  };

  return {
    bench: 'gateway',
    machine: {
      cpus: cpus().length,
      node: process.version,
      haproxy: versionOf('haproxy', ['-v']),
      wrk: versionOf('wrk', ['-v']),
      h2load: versionOf('h2load', ['--version']),
      loadAverageAtStart: loadAtStart,
    },
    setup: {
      backend: `one Node process (node:http, plain HTTP/1.1 on loopback), GET ${path} -> 200 with a ${JSON.stringify({ user: 'bench', tenant: 'bench', stage: 'prod' }).length}-byte JSON body`,
      direct: 'plain HTTP/1.1 to the backend (the app speaks plain HTTP behind the edge; no direct HTTP/2)',
      haproxy:
        'HAProxy 2.6, minimal hand-written config: one frontend (TLS 1.2/1.3, the same ciphers, curves and certificate, ALPN h2,http/1.1), one backend, one server',
      steward:
        "HAProxy 2.6 with Steward's rendered config (renderHaproxyConfig: TLS policy, HSTS, Steward's pages, routes map, crt-list, the edge rules: request checks, owned headers, stick-table limits raised above the load, allow lists, maintenance map), the app as a dynamic server, the route in the map, the access log through the ring into this process",
      stewardNoLog: 'the same without the access log (64 connections only): what the log costs',
      threads: 'HAProxy: one per core (2) in both',
      http1: `wrk -t 2 -c <connections> -d ${seconds}s --latency --timeout 10s`,
      http2: `h2load -t 2 -c <connections> -m 1 -D ${seconds} (one stream in flight per connection); p50/p99 from --log-file`,
      order: `1 s warm-up each; ${rounds} rounds alternating modes; the better run of each counts`,
      tls: "SNI = Host = prod.bench.localhost (a private /etc/hosts in the load generator's mount namespace), ECDSA P-256 certificate from a test CA",
    },
    results,
    targets: { ...targets, throughputTarget: 0.9, addedP99TargetMs: 2 },
    accessLog,
    routeChange: routeChangeAt10,
    reloadsPer1000Changes: reloads,
    routes10k,
    note: 'the machine has 2 cores shared by the load generator (TLS client), HAProxy (2 threads), the backend and whatever else runs: compare ratios within one run, not absolute numbers across machines',
  };
}

try {
  const result = await main();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  for (const haproxy of haproxies) await haproxy.stop(2_000).catch(() => undefined);
  await receiver?.stop();
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
