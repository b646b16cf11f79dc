import { resolve } from 'node:path';
import { run, type RunResult } from '../../src/system/exec.ts';
import type { TestSteward } from './steward.ts';

/** The real `bin/steward` CLI against a test Steward's API, as its owner (STEWARD_API_URL and STEWARD_TOKEN). */
export async function apiCli(t: TestSteward): Promise<(...args: string[]) => Promise<RunResult>> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: t.dataDir,
    STEWARD_API_URL: await t.steward.start(),
    STEWARD_TOKEN: t.token,
  };
  return (...args) => run(resolve(import.meta.dirname, '../../bin/steward'), args, { env });
}
