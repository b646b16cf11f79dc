import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { inject } from 'vitest';
import { etcdBinary, patroniBinary } from '../../src/databases/patroni/index.ts';
import { launchCluster, type TestHaCluster, type TestHaClusterOptions } from './patroni-cluster.ts';

export type { TestHaCluster, TestHaClusterOptions } from './patroni-cluster.ts';

/**
 * Patroni in tests: the run's one etcd (started by global-setup, its client
 * URL injected as `etcdUrl`), a unique key namespace per file, and small
 * throwaway clusters (fsync off) that come up in a few seconds.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's shared etcd (empty when etcd is not installed). */
    etcdUrl: string;
  }
}

/** Patroni and etcd are installed (bin/setup): tests that need them skip otherwise. */
export const patroniAvailable = existsSync(patroniBinary) && existsSync(etcdBinary);

/** The run's shared etcd, as Patroni's `etcd3.hosts` entry and as a URL. */
export function sharedEtcd(): { readonly url: string; readonly host: string } {
  const url = inject('etcdUrl');
  if (!url) throw new Error('the test run has no etcd (install etcd-server: bin/setup)');
  return { url, host: new URL(url).host };
}

/** A key prefix of this test file's own in the shared etcd: `/steward-test-<random>/`. */
export function testNamespace(): string {
  return `/steward-test-${randomBytes(4).toString('hex')}/`;
}

/**
 * A small Patroni cluster on the run's etcd (fsync off): every member is
 * started at once; one wins the initialize key, the others copy it.
 */
export function startTestCluster(options: TestHaClusterOptions = {}): Promise<TestHaCluster> {
  return launchCluster({
    ...options,
    etcdUrl: sharedEtcd().url,
    binDir: inject('pgBinDir'),
    namespace: options.namespace ?? testNamespace(),
  });
}
