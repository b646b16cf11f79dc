import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootId, encodeKey, identify, type StateFile } from '../../src/runtime/process-state.ts';
import type { ProcessSpec } from '../../src/runtime/supervisor.ts';
import { alive, fastHealth, fixture, freePort, get, nodeBin, poll, Sandbox } from './supervisor-helpers.ts';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await Sandbox.create();
});
afterEach(async () => {
  await sandbox.cleanup();
});

/** Processes running the web fixture whose stdout is a log file of this sandbox. */
function webProcesses(): number[] {
  return sandbox
    .processes()
    .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(fixture('web')));
}

describe('Supervisor adoption', () => {
  it('a new supervisor adopts the children of one that died, never starts duplicates, and restarts them when they die', async () => {
    const first = sandbox.supervisor();
    await first.start();
    const specs: ProcessSpec[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const env = { DATABASE_URL: `postgres://stage${i}:s3cret@127.0.0.1/stage${i}` };
      specs.push({
        ...sandbox.spec(`web${i}`, 'web', { port, health: fastHealth, env }),
        key: `acme/dev/web/1.0.0/${i}`,
        instance: i,
      });
    }
    for (const spec of specs) await first.ensure(spec);
    for (const spec of specs) await first.waitHealthy(spec.key, 20_000);
    const pids = specs.map((spec) => first.get(spec.key)!.pid!);
    // Environment values (database passwords) never reach the state files.
    for (const name of readdirSync(join(sandbox.dir, 'state'))) {
      expect(readFileSync(join(sandbox.dir, 'state', name), 'utf8')).not.toContain('s3cret');
    }
    // Steward is killed with SIGKILL: nothing is stopped, nothing is cleaned up.
    first.abandon();

    const second = sandbox.supervisor();
    const adopted = await second.adopt();
    expect(adopted.map((s) => [s.key, s.pid, s.adopted]).sort()).toEqual(
      specs.map((s, i) => [s.key, pids[i], true]).sort(),
    );
    await second.start();
    for (const spec of specs) expect((await second.ensure(spec)).pid).toBe(pids[specs.indexOf(spec)]);
    for (const spec of specs) await second.waitHealthy(spec.key, 20_000);
    expect(webProcesses().sort()).toEqual([...pids].sort());
    expect(sandbox.eventsOf('adopted')).toHaveLength(3);

    // The children kept logging into the same files through their own descriptors.
    await get(specs[0]!.port!, '/still-logging');
    await poll('the log line', () => readFileSync(specs[0]!.logFile, 'utf8').includes('/still-logging'));

    // An adopted child that dies is noticed by polling and restarted.
    const killedAt = performance.now();
    process.kill(pids[1]!, 'SIGKILL');
    const restarted = await poll('the restart of an adopted process', () => {
      const s = second.get(specs[1]!.key);
      return s && s.pid !== null && s.pid !== pids[1] && s.healthy === true ? s : undefined;
    });
    console.log(
      `supervisor: adopted process killed -> healthy again in ${Math.round(performance.now() - killedAt)} ms`,
    );
    expect(restarted).toMatchObject({ adopted: false, restarts: 1 });
    expect(restarted.lastExit!.reason).toBe('exited while adopted (exit status unknown)');
    expect(webProcesses()).toHaveLength(3);

    // An adopted process that hangs is replaced too.
    process.kill(pids[2]!, 'SIGSTOP');
    await poll('the replacement of a hung adopted process', () => {
      const s = second.get(specs[2]!.key);
      return s && s.pid !== pids[2] && s.healthy === true;
    });
    expect(alive(pids[2]!)).toBe(false);
    expect(webProcesses()).toHaveLength(3);

    // And a third supervisor adopts the mix of adopted and restarted children.
    second.abandon();
    const third = sandbox.supervisor();
    await third.start();
    const again = await third.adopt();
    expect(again).toHaveLength(3);
    expect(webProcesses()).toHaveLength(3);
    await third.shutdown({ stopChildren: true });
    expect(webProcesses()).toHaveLength(0);
  });

  it('after a real kill -9 of the supervising process, its children keep running and are adopted once', async () => {
    const specs: ProcessSpec[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      specs.push({
        ...sandbox.spec(`web${i}`, 'web', { port, health: fastHealth }),
        key: `acme/dev/web/1.0.0/${i}`,
        instance: i,
      });
    }
    const steward = spawn(nodeBin, [fixture('steward'), join(sandbox.dir, 'state'), JSON.stringify(specs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    steward.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const pids = await poll(
      'the supervising process to be ready',
      () =>
        /ready (\[.*\])/.exec(output)?.[1]
          ? (JSON.parse(/ready (\[.*\])/.exec(output)![1]!) as number[])
          : undefined,
      60_000,
    );
    steward.kill('SIGKILL');
    await poll(
      'the supervising process to die',
      () => steward.exitCode !== null || steward.signalCode !== null,
    );
    for (const pid of pids) expect(alive(pid)).toBe(true);
    await get(specs[0]!.port!, '/after-the-crash');
    await poll('logging after the crash', () =>
      readFileSync(specs[0]!.logFile, 'utf8').includes('/after-the-crash'),
    );

    const supervisor = sandbox.supervisor();
    await supervisor.start();
    expect((await supervisor.adopt()).map((s) => s.pid).sort()).toEqual([...pids].sort());
    for (const spec of specs) await supervisor.ensure(spec);
    for (const spec of specs) await supervisor.waitHealthy(spec.key, 20_000);
    expect(webProcesses().sort()).toEqual([...pids].sort());
    process.kill(pids[0]!, 'SIGKILL');
    await poll('the restart', () => {
      const s = supervisor.get(specs[0]!.key);
      return s && s.pid !== pids[0] && s.healthy === true;
    });
    expect(webProcesses()).toHaveLength(3);
  });

  it('never adopts a pid that now belongs to another process (start time differs), and leaves that process alone', async () => {
    const stranger = spawn('/bin/sleep', ['60'], { detached: true, stdio: 'ignore' });
    const identity = identify(stranger.pid!)!;
    try {
      const spec = sandbox.spec('web', 'web', { port: await freePort(), health: fastHealth });
      const state: StateFile<ProcessSpec> = {
        version: 1,
        key: spec.key,
        phase: 'running',
        identity: { pid: identity.pid, startTime: identity.startTime - 1, bootId: bootId() },
        startedAt: new Date().toISOString(),
        restarts: 0,
        cgroup: null,
        spec,
      };
      const stateDir = join(sandbox.dir, 'state');
      await mkdir(stateDir, { recursive: true });
      await writeFile(join(stateDir, `${encodeKey(spec.key)}.json`), JSON.stringify(state));

      const supervisor = sandbox.supervisor();
      expect(await supervisor.adopt()).toEqual([]);
      expect(supervisor.get(spec.key)).toBeUndefined();
      expect(existsSync(join(stateDir, `${encodeKey(spec.key)}.json`))).toBe(false);
      expect(alive(identity.pid)).toBe(true);
      // A state file from another boot is not trusted either.
      await writeFile(
        join(stateDir, `${encodeKey(spec.key)}.json`),
        JSON.stringify({ ...state, identity: { ...identity, bootId: 'another-boot' } }),
      );
      const other = sandbox.supervisor();
      expect(await other.adopt()).toEqual([]);
      expect(alive(identity.pid)).toBe(true);

      // ensure() then starts a real one.
      await other.start();
      const started = await other.ensure(spec);
      expect(started.pid).not.toBe(identity.pid);
      await other.waitHealthy(spec.key, 20_000);
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('finds a child spawned just before a crash, when the state file has no pid yet, by its log file', async () => {
    const port = await freePort();
    const spec = sandbox.spec('web', 'web', { port, health: fastHealth });
    const stateDir = join(sandbox.dir, 'state');
    await mkdir(stateDir, { recursive: true });
    const state: StateFile<ProcessSpec> = {
      version: 1,
      key: spec.key,
      phase: 'spawning',
      identity: null,
      startedAt: null,
      restarts: 0,
      cgroup: null,
      spec,
    };
    await writeFile(join(stateDir, `${encodeKey(spec.key)}.json`), JSON.stringify(state));
    // What the crashed Steward had spawned: its stdout is the spec's log file.
    await mkdir(join(sandbox.dir, 'logs'), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    const orphan = spawn(nodeBin, [fixture('web')], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: spec.env,
      cwd: spec.cwd,
    });
    closeSync(fd);
    orphan.unref();
    // A straggler from an older run of the same process, in a group of its own, also writing there.
    const fd2 = openSync(spec.logFile, 'a');
    const straggler = spawn('/bin/sleep', ['60'], { detached: true, stdio: ['ignore', fd2, fd2] });
    closeSync(fd2);
    await poll('the orphan to listen', () => readFileSync(spec.logFile, 'utf8').includes('listening'));

    const supervisor = sandbox.supervisor();
    const adopted = await supervisor.adopt();
    expect(adopted.map((s) => s.pid)).toEqual([orphan.pid]);
    await poll('the straggler to be killed', () => !alive(straggler.pid!), 5_000);
    await supervisor.start();
    expect((await supervisor.ensure(spec)).pid).toBe(orphan.pid);
    await supervisor.waitHealthy(spec.key, 20_000);
    expect(webProcesses()).toEqual([orphan.pid]);
  });

  it('finishes a stop that a crash interrupted, and forgets processes that died meanwhile', async () => {
    const first = sandbox.supervisor();
    await first.start();
    const a = { ...sandbox.spec('worker', 'ignore-term'), key: 'acme/dev/worker/1.0.0/0' };
    const b = { ...sandbox.spec('worker1', 'ignore-term'), key: 'acme/dev/worker/1.0.0/1', instance: 1 };
    const pa = (await first.ensure(a)).pid!;
    const pb = (await first.ensure(b)).pid!;
    await first.waitHealthy(a.key, 10_000);
    // Crash in the middle of stopping a (state says "stopping"), while b dies with Steward down.
    const stopping = first.stop(a.key, { graceMs: 60_000 });
    await poll('the stopping state', () =>
      readFileSync(join(sandbox.dir, 'state', `${encodeKey(a.key)}.json`), 'utf8').includes('"stopping"'),
    );
    first.abandon();
    process.kill(pb, 'SIGKILL');
    await poll('b to die', () => !alive(pb));

    const second = sandbox.supervisor();
    expect(await second.adopt()).toEqual([]);
    expect(alive(pa)).toBe(false);
    expect(second.status()).toEqual([]);
    void stopping.catch(() => undefined);
  });
});
