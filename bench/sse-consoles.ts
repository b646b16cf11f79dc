/**
 * The consoles of bench/sse-fanout, in a process of their own (so that they
 * do not share Steward's event loop or its CPU count): `consoles` open
 * GET /api/v1/events streams over HTTPS, and the changes they wait for,
 * written to the control database one at a time. The job comes over IPC, not
 * argv: it holds a token and a database password.
 */
import { request } from 'node:https';
import pg from 'pg';

interface Job {
  readonly apiUrl: string;
  readonly ca: string;
  readonly token: string;
  readonly databaseUrl: string;
  readonly slug: string;
  readonly consoles: number;
  readonly changes: number;
  /** Pause between changes: longer than the hub's coalescing, so that each change is an event of its own. */
  readonly gapMs: number;
}

export interface ConsolesResult {
  /** Per change and console: ms from before the UPDATE until the event arrived. */
  readonly latencies: number[];
  /** Changes some console never saw within 5 s. */
  readonly missed: number;
}

interface Console {
  /** Change events about the benched tenant so far. */
  seen: number;
  /** When each arrived (performance.now()). */
  readonly arrivals: number[];
}

function openConsole(job: Job, marker: string): Promise<Console> {
  return new Promise((resolve, reject) => {
    const console: Console = { seen: 0, arrivals: [] };
    const req = request(
      `${job.apiUrl}/api/v1/events?topics=tenants`,
      { headers: { authorization: `Bearer ${job.token}` }, ca: job.ca, agent: false },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /api/v1/events: ${res.statusCode}`));
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const frames = (buffer + chunk).split('\n\n');
          buffer = frames.pop() ?? '';
          for (const frame of frames) {
            if (frame.startsWith('retry:')) resolve(console);
            else if (frame.includes(marker)) {
              console.seen++;
              console.arrivals.push(performance.now());
            }
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function run(job: Job): Promise<ConsolesResult> {
  const marker = `"id":"${job.slug}"`;
  const consoles = await Promise.all(Array.from({ length: job.consoles }, () => openConsole(job, marker)));
  const db = new pg.Client({ connectionString: job.databaseUrl });
  await db.connect();
  const latencies: number[] = [];
  let missed = 0;
  // Steward's CPU is measured from here (the parent's answer) to the result.
  await new Promise<void>((go) => {
    process.once('message', () => go());
    process.send?.('ready');
  });
  try {
    for (let i = 0; i < job.changes; i++) {
      const started = performance.now();
      await db.query('update tenants set display_name = $1 where slug = $2', [`fan-out ${i}`, job.slug]);
      const deadline = started + 5000;
      while (consoles.some((c) => c.seen <= i) && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
      for (const c of consoles) {
        const at = c.arrivals[i];
        if (at === undefined) missed++;
        else latencies.push(at - started);
        // A late one must not count for the next change.
        c.seen = Math.max(c.seen, i + 1);
        c.arrivals.length = i + 1;
      }
      await new Promise((r) => setTimeout(r, job.gapMs));
    }
  } finally {
    await db.end();
  }
  return { latencies, missed };
}

process.once('message', (job: Job) => {
  run(job).then(
    (result) => {
      process.send?.(result, () => process.exit(0));
    },
    (error: unknown) => {
      process.stderr.write(`sse-consoles: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
});
