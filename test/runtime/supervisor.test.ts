import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alive, fastHealth, freePort, get, poll, procStatusField, Sandbox } from './supervisor-helpers.ts';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await Sandbox.create();
});
afterEach(async () => {
  await sandbox.cleanup();
});

describe('Supervisor', () => {
  it('starts a web process that passes its probe, as the given uid, with exactly the given env', async () => {
    const supervisor = sandbox.supervisor();
    await supervisor.start();
    const port = await freePort();
    const spec = sandbox.spec('web', 'web', {
      port,
      uid: 200_123,
      gid: 200_123,
      health: fastHealth,
      env: { GREETING: 'hello world' },
    });
    const first = await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 20_000);

    const status = supervisor.get(spec.key);
    expect(status).toMatchObject({
      phase: 'running',
      healthy: true,
      restarts: 0,
      adopted: false,
      pid: first.pid,
    });
    const pid = status!.pid!;
    expect(procStatusField(pid, 'Uid').split(/\s+/)).toEqual(['200123', '200123', '200123', '200123']);
    expect(procStatusField(pid, 'Gid').split(/\s+/)).toEqual(['200123', '200123', '200123', '200123']);
    expect(procStatusField(pid, 'Groups')).toBe('');
    // Its own process group, and the program itself (not a shell) is the supervised pid.
    expect(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2])).toBe(pid);

    const env = JSON.parse((await get(port, '/env')).body);
    expect(env).toEqual(spec.env);

    // ensure is idempotent: the same process, not a second one.
    expect((await supervisor.ensure(spec)).pid).toBe(pid);
    expect(sandbox.processes()).toEqual([pid]);
    expect(readFileSync(spec.logFile, 'utf8')).toContain(`listening on ${port} as uid 200123`);
    expect(sandbox.eventsOf('started', spec.key)).toHaveLength(1);
  });

  it('restarts a child killed with SIGKILL, healthy again in well under 2 s', async () => {
    const supervisor = sandbox.supervisor();
    await supervisor.start();
    const port = await freePort();
    const spec = sandbox.spec('web', 'web', { port, health: fastHealth });
    await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 20_000);

    const timings: number[] = [];
    for (let round = 0; round < 3; round++) {
      const before = supervisor.get(spec.key)!.pid!;
      const killedAt = performance.now();
      process.kill(before, 'SIGKILL');
      await poll('a new healthy process', () => {
        const s = supervisor.get(spec.key);
        return s && s.pid !== null && s.pid !== before && s.healthy === true;
      });
      const serving = await poll('the new process to serve', async () => {
        const body = await get(port, '/', 500).then(
          (r) => r.body,
          () => '',
        );
        return body.startsWith('pid ') && !body.includes(String(before)) ? body : undefined;
      });
      timings.push(performance.now() - killedAt);
      expect(serving).toBe(`pid ${supervisor.get(spec.key)!.pid}`);
    }
    console.log(
      `supervisor: SIGKILL -> healthy and serving again in ${timings.map((t) => Math.round(t)).join(', ')} ms`,
    );
    for (const t of timings) expect(t).toBeLessThan(2_000);
    const status = supervisor.get(spec.key)!;
    expect(status.restarts).toBe(3);
    expect(status.lastExit).toMatchObject({ signal: 'SIGKILL', reason: 'killed by SIGKILL' });
    expect(sandbox.eventsOf('exited', spec.key)).toHaveLength(3);
    expect(sandbox.processes()).toEqual([status.pid]);
  });

  it('puts a process that keeps crashing in crashloop, with the reason, the last log lines and an event, and keeps retrying', async () => {
    const supervisor = sandbox.supervisor({
      backoff: { baseMs: 50, capMs: 400 },
      crashloop: { exits: 4, windowMs: 60_000 },
    });
    await supervisor.start();
    const spec = sandbox.spec('worker', 'crash');
    await supervisor.ensure(spec);

    const status = await poll('crashloop', () => {
      const s = supervisor.get(spec.key);
      return s?.phase === 'crashloop' ? s : undefined;
    });
    expect(status.lastExit).toMatchObject({ code: 1, signal: null, reason: 'exited with code 1' });
    expect(status.lastLogLines).toContain('fatal: could not connect to the database (ECONNREFUSED)');
    const [event, ...more] = sandbox.eventsOf('crashloop', spec.key);
    expect(more).toHaveLength(0);
    expect(event!.reason).toBe('4 exits within 60 s; last: exited with code 1');
    expect(event!.lastLogLines).toContain('fatal: could not connect to the database (ECONNREFUSED)');

    // Retries continue, at the cap.
    const restarts = status.restarts;
    await poll('more retries', () => supervisor.get(spec.key)!.restarts >= restarts + 2, 10_000);
    expect(supervisor.get(spec.key)!.phase).toBe('crashloop');
    const delays = sandbox
      .eventsOf('restarting', spec.key)
      .map((e) => Number(/in (\d+) ms/.exec(e.reason!)![1]));
    expect(delays.slice(4).every((d) => d === 400)).toBe(true);
  });

  it('replaces a process stopped with SIGSTOP within failureThreshold * interval plus slack', async () => {
    const supervisor = sandbox.supervisor();
    await supervisor.start();
    const port = await freePort();
    const health = {
      path: '/healthz',
      intervalMs: 200,
      timeoutMs: 200,
      failureThreshold: 3,
      startTimeoutMs: 20_000,
    };
    const spec = sandbox.spec('web', 'web', { port, health });
    await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 20_000);
    const before = supervisor.get(spec.key)!.pid!;

    const stoppedAt = performance.now();
    process.kill(before, 'SIGSTOP');
    await poll('a replacement', () => {
      const s = supervisor.get(spec.key);
      return s && s.pid !== before && s.healthy === true;
    });
    const elapsed = performance.now() - stoppedAt;
    console.log(`supervisor: SIGSTOP -> replaced and healthy in ${Math.round(elapsed)} ms`);
    // 3 failed probes (up to 3 * (200 + 200) ms), a restart delay under 500 ms, then start-up.
    expect(elapsed).toBeLessThan(3 * (200 + 200) + 500 + 3_000);
    expect(sandbox.eventsOf('unhealthy', spec.key)).toHaveLength(1);
    expect(alive(before)).toBe(false);
    expect(supervisor.get(spec.key)!.lastExit!.reason).toMatch(
      /^unhealthy: 3 health checks failed in a row, last: GET \/healthz timed out/,
    );
    expect(sandbox.eventsOf('unhealthy', spec.key)).toHaveLength(1);
  });

  it('replaces a process whose health endpoint hangs while the process itself runs', async () => {
    const supervisor = sandbox.supervisor();
    await supervisor.start();
    const port = await freePort();
    const spec = sandbox.spec('web', 'web', { port, health: fastHealth, env: { HANG_SIGNAL: 'SIGUSR2' } });
    await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 20_000);
    const before = supervisor.get(spec.key)!.pid!;
    process.kill(before, 'SIGUSR2');
    await poll('a replacement', () => {
      const s = supervisor.get(spec.key);
      return s && s.pid !== before && s.healthy === true;
    });
    expect(supervisor.get(spec.key)!.lastExit!.reason).toContain('unhealthy');
    expect(readFileSync(spec.logFile, 'utf8')).toContain('health endpoint hangs from now on');
  });

  it("restarts no unhealthy process while health restarts are held (the stages' database is being restarted)", async () => {
    let held = true;
    const supervisor = sandbox.supervisor({ holdHealthRestarts: () => held });
    await supervisor.start();
    const port = await freePort();
    const spec = sandbox.spec('web', 'web', { port, health: fastHealth, env: { HANG_SIGNAL: 'SIGUSR2' } });
    await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 20_000);
    const before = supervisor.get(spec.key)!.pid!;
    process.kill(before, 'SIGUSR2');
    // Well past failureThreshold * intervalMs: unhealthy, and still the same process.
    await poll('failing health checks', () => supervisor.get(spec.key)?.healthy === false);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(supervisor.get(spec.key)).toMatchObject({ pid: before, restarts: 0, healthy: false });
    held = false;
    await poll('a replacement once the hold ends', () => {
      const s = supervisor.get(spec.key);
      return s && s.pid !== before && s.healthy === true;
    });
  });

  it('gives up on a process that never becomes healthy after startTimeoutMs', async () => {
    const supervisor = sandbox.supervisor({ backoff: { baseMs: 50, capMs: 100 } });
    await supervisor.start();
    const port = await freePort();
    // Listens on another port than the one probed.
    const spec = {
      ...sandbox.spec('web', 'web', {
        port: await freePort(),
        health: { ...fastHealth, startTimeoutMs: 1_500 },
      }),
      port,
    };
    await supervisor.ensure(spec);
    await poll('a restart', () => supervisor.get(spec.key)!.restarts >= 1, 15_000);
    expect(supervisor.get(spec.key)!.lastExit!.reason).toBe('not healthy within 1500 ms of start');
  });

  it('stop() kills a child that ignores SIGTERM after the grace period, and removes its state', async () => {
    const supervisor = sandbox.supervisor();
    await supervisor.start();
    const spec = sandbox.spec('worker', 'ignore-term');
    const { pid } = await supervisor.ensure(spec);
    await poll('the child to run', () => readFileSync(spec.logFile, 'utf8').includes('running'));
    const started = performance.now();
    await supervisor.stop(spec.key, { graceMs: 1_000 });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(5_000);
    expect(alive(pid!)).toBe(false);
    expect(readFileSync(spec.logFile, 'utf8')).toContain('SIGTERM ignored');
    expect(supervisor.get(spec.key)).toBeUndefined();
    expect(existsSync(join(sandbox.dir, 'state', 'acme%2Fdev%2Fworker%2F1%2E0%2E0%2F0.json'))).toBe(false);
    expect(sandbox.eventsOf('stopped', spec.key)).toHaveLength(1);
    await supervisor.stop(spec.key); // twice is fine
  });

  it('stop() ends a well-behaved child at once', async () => {
    const supervisor = sandbox.supervisor();
    await supervisor.start();
    const port = await freePort();
    const spec = sandbox.spec('web', 'web', { port, health: fastHealth });
    await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 20_000);
    const started = performance.now();
    await supervisor.stop(spec.key, { graceMs: 10_000 });
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(readFileSync(spec.logFile, 'utf8')).toContain('SIGTERM: closing');
    expect(sandbox.eventsOf('exited', spec.key)).toHaveLength(0);
  });

  it('writes output to the log file and rotates it in place, keeping generations', async () => {
    const supervisor = sandbox.supervisor({ logs: { maxBytes: 2_000, generations: 2, checkEveryMs: 50 } });
    await supervisor.start();
    const port = await freePort();
    const spec = sandbox.spec('web', 'web', { port, health: { ...fastHealth, intervalMs: 1_000 } });
    await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 20_000);

    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 80; i++) await get(port, `/round-${round}/request-${i}`);
      await poll(
        `rotation ${round}`,
        () =>
          existsSync(`${spec.logFile}.1`) &&
          readFileSync(`${spec.logFile}.1`, 'utf8').includes(`/round-${round}/`),
      );
    }
    expect(existsSync(`${spec.logFile}.2`)).toBe(true);
    expect(existsSync(`${spec.logFile}.3`)).toBe(false);
    // The child keeps writing to the truncated file through its O_APPEND descriptor: no hole, no old data.
    await get(port, '/after-rotation');
    await poll('the line after rotation', () =>
      readFileSync(spec.logFile, 'utf8').includes('/after-rotation'),
    );
    const current = readFileSync(spec.logFile);
    expect(current.includes(0)).toBe(false);
    // lastLogLines follows the file: it shows the new line, unless a log pass rotated it away
    // first (the rest of round 3 may have left the file just under the limit), and then it
    // shows what the file now holds.
    await poll('lastLogLines', () => {
      const lines = supervisor.get(spec.key)!.lastLogLines;
      if (lines.some((l) => l.includes('/after-rotation'))) return true;
      const rotatedAway = readFileSync(`${spec.logFile}.1`, 'utf8').includes('/after-rotation');
      const now = readFileSync(spec.logFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '');
      return rotatedAway && JSON.stringify(lines) === JSON.stringify(now.slice(-20)); // logs.lines: 20
    });
  });

  it('enforces a memory limit the way this machine allows, and records the reason', async () => {
    const supervisor = sandbox.supervisor({ backoff: { baseMs: 5_000, capMs: 5_000 } });
    console.log(`supervisor: memory limits on this machine are enforced by ${supervisor.memoryEnforcement}`);
    await supervisor.start();
    // Buffers grow outside the JavaScript heap: only a kernel limit stops them. Under the runtime fallback the heap does.
    const kernel = supervisor.memoryEnforcement !== 'runtime';
    const spec = sandbox.spec('worker', 'alloc', {
      memoryMb: 96,
      env: { ALLOC: kernel ? 'buffer' : 'heap' },
    });
    const { pid } = await supervisor.ensure(spec);
    if (kernel) expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(sandbox.cgroupName);
    const exit = await poll(
      'the out-of-memory exit',
      () => supervisor.get(spec.key)!.lastExit ?? undefined,
      30_000,
    );
    expect(exit.reason).toBe('out of memory (limit 96 MB)');
    if (kernel) expect(exit.signal).toBe('SIGKILL');
    const [event] = sandbox.eventsOf('oom', spec.key);
    expect(event!.reason).toBe('out of memory (limit 96 MB)');
  });

  it('falls back to the runtime limit for node commands (NODE_OPTIONS) and detects a heap out-of-memory exit', async () => {
    const supervisor = sandbox.supervisor({ memory: 'runtime', backoff: { baseMs: 5_000, capMs: 5_000 } });
    await supervisor.start();
    const spec = sandbox.spec('worker', 'alloc', { memoryMb: 64, env: { ALLOC: 'heap' } });
    await supervisor.ensure(spec);
    const exit = await poll(
      'the out-of-memory exit',
      () => supervisor.get(spec.key)!.lastExit ?? undefined,
      30_000,
    );
    expect(exit.reason).toBe('out of memory (limit 64 MB)');
    expect(supervisor.get(spec.key)!.lastLogLines.join('\n')).toMatch(/heap out of memory/i);
    expect(sandbox.eventsOf('oom', spec.key)).toHaveLength(1);
  });

  it('a CPU-bound worker (nice 19) does not slow the web process of the same stage', async () => {
    const supervisor = sandbox.supervisor();
    await supervisor.start();
    const port = await freePort();
    const web = sandbox.spec('web', 'web', { port, health: { ...fastHealth, intervalMs: 1_000 } });
    await supervisor.ensure(web);
    await supervisor.waitHealthy(web.key, 20_000);

    const measure = async (): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await get(port, '/');
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      return times[Math.floor(times.length / 2)]!;
    };
    await measure(); // warm up
    const alone = await measure();
    // One spinner per core.
    const spinners = [0, 1].map((i) => ({
      ...sandbox.spec(`spin${i}`, 'spin', { nice: 19 }),
      key: `acme/dev/worker/1.0.0/${i}`,
      instance: i,
    }));
    for (const spinner of spinners) await supervisor.ensure(spinner);
    for (const spinner of spinners)
      await poll('the spinner', () => readFileSync(spinner.logFile, 'utf8').includes('spinning'));
    const spinnerPid = supervisor.get(spinners[0]!.key)!.pid!;
    expect(readFileSync(`/proc/${spinnerPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]).toBe('19');
    const busy = await measure();
    console.log(
      `supervisor: web p50 ${alone.toFixed(2)} ms alone, ${busy.toFixed(2)} ms with two CPU-bound workers at nice 19`,
    );
    expect(busy).toBeLessThan(Math.max(alone * 3, alone + 5));
  });

  it('emitting an event never throws into the supervisor', async () => {
    const supervisor = sandbox.supervisor({
      onEvent: () => {
        throw new Error('handler bug');
      },
    });
    await supervisor.start();
    const spec = sandbox.spec('worker', 'ignore-term');
    await supervisor.ensure(spec);
    await supervisor.waitHealthy(spec.key, 10_000);
    await supervisor.stop(spec.key, { graceMs: 100 });
  });
});
