/**
 * bench/console: how fast the console's tenant list opens on a cold browser,
 * with BENCH_TENANTS tenants (500 by default) in the control database.
 * Chromium's own clocks (Navigation Timing, Resource Timing, a performance
 * mark when the list's first row is in the page), over loopback against the
 * console that `steward up` serves. Prints JSON.
 *
 * - firstLoad: from navigation start, when the document's first byte came,
 *   DOMContentLoaded, load (percentiles over BENCH_RUNS cold loads, each in a
 *   fresh browser context: no cache, no service worker, a new session).
 * - firstRow: when the first tenant row (a link to the tenant) is in the
 *   DOM: the list answered and React rendered it; `interactive` adds the
 *   time until the main thread is next idle (the row's link takes a click).
 * - javascript: the scripts of that first load, bytes as transferred
 *   (compressed: what Steward sends, brotli or gzip) and decoded.
 *
 * Usage: npm run bench:console  (BENCH_TENANTS=500 BENCH_RUNS=15)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { openControlStore } from '../src/store/db.ts';
import { httpsFetch } from '../test/gateway/support.ts';
import { serverSpki } from '../test/harness/browser.ts';
import { log, percentile, round, withSteward } from './support.ts';

const tenants = Number(process.env.BENCH_TENANTS ?? 500);
const runs = Number(process.env.BENCH_RUNS ?? 15);
const chromiumPath = process.env.STEWARD_CHROMIUM ?? '/usr/bin/chromium';

/** What the page reports of one cold load (all times in ms from navigation start). */
interface LoadSample {
  readonly responseStart: number;
  readonly domContentLoaded: number;
  readonly load: number;
  readonly firstRow: number;
  readonly interactive: number;
  readonly rows: number;
  readonly scripts: readonly { name: string; transfer: number; encoded: number; decoded: number }[];
}

/**
 * Runs in the page before any of its scripts: marks `first-row` when the
 * tenant list's first row link appears, then `interactive` at the next idle
 * moment of the main thread (a task queued behind whatever React still runs).
 */
const observeFirstRow = (): void => {
  const selector = 'main table tbody tr:not([aria-hidden]) a[href^="/tenants/"]';
  const seen = (): boolean => {
    if (!document.querySelector(selector)) return false;
    performance.mark('first-row');
    const channel = new MessageChannel();
    channel.port1.onmessage = () => performance.mark('interactive');
    requestAnimationFrame(() => channel.port2.postMessage(null));
    return true;
  };
  const observer = new MutationObserver(() => {
    if (seen()) observer.disconnect();
  });
  document.addEventListener('DOMContentLoaded', () => {
    if (!seen()) observer.observe(document.body, { childList: true, subtree: true });
  });
};

async function coldLoad(browser: Browser, origin: string, session: string) {
  const context = await browser.newContext({ baseURL: origin });
  try {
    // Signed in already (the console's session cookie), as a returning operator is: only the load is measured.
    await context.addCookies([
      {
        name: '__Host-steward',
        value: session,
        url: `${origin}/`,
        secure: true,
        httpOnly: true,
        sameSite: 'Strict',
      },
    ]);
    const page = await context.newPage();
    await page.addInitScript(observeFirstRow);
    await page.goto('/tenants', { waitUntil: 'load' });
    await page.waitForFunction(() => performance.getEntriesByName('interactive').length > 0, null, {
      timeout: 30_000,
    });
    return await page.evaluate((): LoadSample => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const mark = (name: string): number => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
      const scripts = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter((r) => new URL(r.name).pathname.endsWith('.js'))
        .map((r) => ({
          name: new URL(r.name).pathname,
          transfer: r.transferSize,
          encoded: r.encodedBodySize,
          decoded: r.decodedBodySize,
        }));
      return {
        responseStart: nav.responseStart,
        domContentLoaded: nav.domContentLoadedEventEnd,
        load: nav.loadEventEnd,
        firstRow: mark('first-row'),
        interactive: mark('interactive'),
        rows: document.querySelectorAll('main table tbody tr:not([aria-hidden])').length,
        scripts,
      };
    });
  } finally {
    await context.close();
  }
}

const stats = (values: readonly number[]) => ({
  p50: round(percentile(values, 50)),
  p95: round(percentile(values, 95)),
  min: round(Math.min(...values)),
  max: round(Math.max(...values)),
});

await withSteward('console', async (s, onCleanup) => {
  const cluster = s.running.cluster;
  if (!cluster) throw new Error('bench/console needs the embedded PostgreSQL');
  const { superuserPassword } = JSON.parse(
    await readFile(join(s.dataDir, 'pg-credentials.json'), 'utf8'),
  ) as {
    superuserPassword: string;
  };
  // Rows only, as bench/status seeds them: tenants without stages have nothing to provision.
  const store = openControlStore(cluster.superuserUrl(superuserPassword, 'steward'), { max: 2 });
  try {
    const slugs = Array.from({ length: tenants }, (_, i) => `cb${String(i).padStart(5, '0')}`);
    await store.pool.query(
      `insert into tenants (slug, display_name, region, tier, contacts)
       select s, 'Tenant ' || s, $2, 'shared', '[]' from unnest($1::text[]) s`,
      [slugs, s.running.config.defaultRegion],
    );
  } finally {
    await store.close();
  }
  const credentials = { username: 'bench-console', password: `bench-console-${Date.now()}-password` };
  await s.api.post('/api/v1/operators', { ...credentials, role: 'operator' });

  // Where operators open it: the data plane's console host (HAProxy in front of the API).
  const consoleUrl = s.running.steward.consoleUrl;
  if (!consoleUrl) throw new Error('bench/console needs the data plane (it serves the console)');
  const origin = new URL(consoleUrl).origin;
  const host = new URL(origin).hostname;
  const port = Number(new URL(origin).port || 443);
  const ca = await readFile(join(s.dataDir, 'ca.pem'), 'utf8');
  const signedIn = await httpsFetch({
    port,
    host,
    path: '/api/v1/console/login',
    method: 'POST',
    ca,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credentials),
  });
  const session = /__Host-steward=([^;]+)/.exec(
    [signedIn.headers['set-cookie'] ?? []].flat().join('\n'),
  )?.[1];
  if (signedIn.status !== 200 || !session)
    throw new Error(`console sign-in: ${signedIn.status} ${signedIn.body}`);
  const spki = await serverSpki(port, host, ca);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', `--ignore-certificate-errors-spki-list=${spki}`],
  });
  onCleanup(() => browser.close());
  const version = browser.version();
  // One warm-up load (Steward's first queries, Chromium's own start), not counted.
  await coldLoad(browser, origin, session);
  const samples: LoadSample[] = [];
  for (let i = 0; i < runs; i++) {
    samples.push(await coldLoad(browser, origin, session));
    log(`bench/console: run ${i + 1}/${runs}: first row at ${round(samples.at(-1)?.firstRow ?? NaN)} ms`);
  }
  const first = samples[0];
  if (!first) throw new Error('no samples');
  const sum = (key: 'transfer' | 'encoded' | 'decoded') => first.scripts.reduce((n, r) => n + r[key], 0);
  return {
    bench: 'console',
    tenants,
    runs,
    chromium: version,
    transport: 'https over loopback, through the data plane (HAProxy) to the API server',
    page: '/tenants (first page: 100 rows)',
    rowsRendered: first.rows,
    firstLoadMs: {
      responseStart: stats(samples.map((x) => x.responseStart)),
      domContentLoaded: stats(samples.map((x) => x.domContentLoaded)),
      load: stats(samples.map((x) => x.load)),
    },
    firstRowMs: stats(samples.map((x) => x.firstRow)),
    interactiveMs: stats(samples.map((x) => x.interactive)),
    javascript: {
      files: first.scripts.length,
      // Body bytes as sent (content-encoded): the number the 200 KB budget is about.
      compressedBytes: sum('encoded'),
      decodedBytes: sum('decoded'),
      transferBytesWithHeaders: sum('transfer'),
      budgetBytes: 200 * 1024,
      scripts: first.scripts.map((r) => ({ name: r.name, compressed: r.encoded, decoded: r.decoded })),
    },
  };
});
