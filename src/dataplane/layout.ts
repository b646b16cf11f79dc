import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UnavailableError } from '../core/errors.ts';
import type { DataPlaneState } from './config.ts';

/**
 * Where a data plane keeps its files: `<dataDir>/dataplane` for Steward's
 * own, `<dataDir>/dataplane-gateway` for a `--role gateway` process, so that
 * one may run beside the Steward of its data dir.
 */
export function dataPlaneDir(dataDir: string, role: 'all' | 'gateway'): string {
  return join(dataDir, role === 'gateway' ? 'dataplane-gateway' : 'dataplane');
}

/** The data plane's files in its directory. */
export function dataPlaneFiles(dir: string): DataPlaneState['files'] {
  return {
    adminSocket: join(dir, 'admin.sock'),
    routesMap: join(dir, 'routes.map'),
    defaultCertificate: join(dir, 'default.pem'),
    crtList: join(dir, 'crt-list.txt'),
    errorDir: join(dir, 'pages'),
    allowDir: join(dir, 'allow'),
    maintenanceMap: join(dir, 'maintenance.map'),
    tenantLimits: join(dir, 'tenant-limits.map'),
  };
}

/** The Debian package, for the message when HAProxy is missing. */
export const haproxyPackage = 'haproxy';

/** Stops with a message naming the package when HAProxy is not installed. */
export function checkHaproxyInstalled(binary = '/usr/sbin/haproxy'): void {
  if (existsSync(binary)) return;
  throw new UnavailableError(
    `HAProxy is not installed (${binary} is missing): Steward's data plane runs on it. Install the Debian package "${haproxyPackage}" (apt-get install ${haproxyPackage}), or run bin/setup, which installs every package Steward needs`,
  );
}
