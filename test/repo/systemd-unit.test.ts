import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * deploy/systemd/steward.service brings Steward back after a crash and lets
 * the next start adopt what the last one ran: Restart=always, and
 * KillMode=process so that systemd signals only Steward itself, never its
 * PostgreSQL or the stages' processes (test/cli/survival.test.ts shows the
 * adoption after a kill -9). Secrets come from an environment file, never
 * the command line. systemd does not run in CI: the unit is parsed here, and
 * `systemd-analyze verify` checks it where that tool is installed.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const unitFile = join(root, 'deploy', 'systemd', 'steward.service');

/** The unit as section → key → values (a key may repeat, as Environment= does). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section?.[1]) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

function seconds(value: string): number {
  const match = /^(\d+)(s|min)?$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  return Number(match[1]) * (match[2] === 'min' ? 60 : 1);
}

describe('the systemd unit', () => {
  const text = readFileSync(unitFile, 'utf8');
  const unit = parseUnit(text);
  const service = unit.get('Service') ?? new Map<string, string[]>();
  const one = (key: string): string | undefined => service.get(key)?.at(-1);

  it('restarts Steward after any exit, without giving up, after a short pause', () => {
    expect(one('Restart')).toBe('always');
    const restartSec = seconds(one('RestartSec') ?? '');
    expect(restartSec).toBeGreaterThanOrEqual(1);
    expect(restartSec).toBeLessThanOrEqual(10);
    // A start limit would leave Steward down for good after a few quick crashes.
    expect(unit.get('Unit')?.get('StartLimitIntervalSec')?.at(-1)).toBe('0');
  });

  it('signals only Steward, so its PostgreSQL and the stages run on and are adopted', () => {
    expect(one('KillMode')).toBe('process');
    expect(one('KillSignal') ?? 'SIGTERM').toBe('SIGTERM');
    // Longer than Steward's own 30 s shutdown deadline (src/cli/main.ts), bounded.
    const stop = seconds(one('TimeoutStopSec') ?? '');
    expect(stop).toBeGreaterThan(30);
    expect(stop).toBeLessThanOrEqual(180);
  });

  it('takes secrets from a root-only environment file, never from the command line', () => {
    expect(one('EnvironmentFile')).toMatch(/^-?\/etc\/steward\/steward\.env$/);
    const execStart = one('ExecStart') ?? '';
    expect(execStart).toMatch(/\/bin\/steward up$/);
    expect(execStart).not.toMatch(/password|token|secret|key|STEWARD_|postgres:\/\//i);
    for (const assignment of service.get('Environment') ?? []) {
      expect(assignment).toMatch(/^STEWARD_(DATA_DIR|LOG_LEVEL)=/);
    }
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('starts a command the CLI knows, with the data dir from the environment', () => {
    const result = spawnSync(join(root, 'bin', 'steward'), ['up', '--help'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(execFileSync(join(root, 'bin', 'steward'), ['--help'], { encoding: 'utf8' })).toMatch(
      /--data-dir/,
    );
    expect(service.get('Environment')).toContain('STEWARD_DATA_DIR=/var/lib/steward');
  });

  it.runIf(existsSync('/usr/bin/systemd-analyze'))('passes systemd-analyze verify', async () => {
    // ExecStart must name an executable that exists here: this checkout's bin/steward.
    const dir = await mkdtemp(join(tmpdir(), 'steward-unit-'));
    try {
      const copy = join(dir, 'steward.service');
      await writeFile(copy, text.replace('/opt/steward/bin/steward', join(root, 'bin', 'steward')));
      const result = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/steward\.service/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
