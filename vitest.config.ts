import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'web/src/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Both cores: test files wait on processes (PostgreSQL, HAProxy, apps) much of the time, and each
    // file has its own control DB, uid range, ports and directories. Vitest's default (cores - 1)
    // ran them one at a time here (the run took as long as its files together); with two, a trial run
    // took 55% of that.
    maxWorkers: 2,
    reporters: ['default'],
    // Every API response is checked against its route's contract (src/api/contracts/), in every test.
    env: { STEWARD_CHECK_RESPONSES: '1' },
  },
});
