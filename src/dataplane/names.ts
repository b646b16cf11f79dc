import { isIP } from 'node:net';
import { InputError, showValue } from '../core/errors.ts';

/**
 * What the data plane accepts as names, addresses and paths. Everything that
 * reaches haproxy.cfg or a runtime API command line passes one of these first:
 * HAProxy splits commands on spaces and `;` and ends them at a newline, so a
 * value is checked against a closed alphabet, never escaped.
 */

/** A backend or server name: `st_b7k2m9x4q8r3`, `web-1`, `be.steward`. */
const namePattern = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
/** A host name as it reaches the routes map: lower case, no port, no trailing dot. */
const hostPattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** An absolute path without spaces, quotes or shell and HAProxy metacharacters. */
const pathPattern = /^\/[A-Za-z0-9._/+-]{1,200}$/;
/** One line of a PEM file: a BEGIN/END marker or base64 (headers of encrypted keys are refused). */
const pemLinePattern = /^(-----(BEGIN|END) [A-Z0-9 ]{1,40}-----|[A-Za-z0-9+/=]{1,76})$/;

export function checkName(field: string, value: string): string {
  if (!namePattern.test(value)) {
    throw new InputError(
      `${field} ${showValue(value)} is not accepted: use 1 to 63 characters of a-z, 0-9, '_', '.' and '-', starting with a letter or digit`,
      { field },
    );
  }
  return value;
}

export function checkHost(field: string, value: string): string {
  if (value.length > 253 || !hostPattern.test(value)) {
    throw new InputError(
      `${field} ${showValue(value)} is not a host name: use lower-case labels of a-z, 0-9 and '-' joined by '.', without a port (e.g. acme.example.com)`,
      { field },
    );
  }
  return value;
}

export function checkAddress(field: string, value: string): string {
  if (isIP(value) === 0) {
    throw new InputError(
      `${field} ${showValue(value)} is not an IP address: use an IPv4 or IPv6 literal such as 127.0.0.1`,
      {
        field,
      },
    );
  }
  return value;
}

export function checkPort(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new InputError(`${field} ${showValue(value)} is not a port: use an integer from 1 to 65535`, {
      field,
    });
  }
  return value;
}

export function checkPath(field: string, value: string): string {
  if (!pathPattern.test(value) || value.split('/').includes('..')) {
    throw new InputError(
      `${field} ${showValue(value)} is not accepted: use an absolute path of A-Z, a-z, 0-9, '.', '_', '-', '+' and '/' (no '..', at most 200 characters)`,
      { field },
    );
  }
  return value;
}

/** A certificate with its key, as PEM blocks; returns it without blank lines (HAProxy ends a payload at one). */
export function checkPem(field: string, value: string): string {
  const lines = value.split(/\r?\n/).filter((line) => line !== '');
  const begins = lines.filter((line) => line.startsWith('-----BEGIN ')).length;
  if (lines.length === 0 || begins === 0 || lines.some((line) => !pemLinePattern.test(line))) {
    throw new InputError(
      `${field} is not accepted: use PEM blocks (a certificate, its chain and an unencrypted private key), base64 lines between -----BEGIN/END ...----- markers only`,
      { field },
    );
  }
  return lines.join('\n');
}

export function addressWithPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A stage id as it may join a backend name (`st_` and 60 more make a name's 63). */
const stageIdPattern = /^[a-z0-9][a-z0-9_.-]{0,59}$/;

/** A stage's backend in haproxy.cfg: `st_<stage id>`; the activator reads the stage back from it. */
export function stageBackendName(stageId: string): string {
  if (!stageIdPattern.test(stageId)) {
    throw new InputError(
      `stage id ${showValue(stageId)} is not accepted: use 1 to 60 characters of a-z, 0-9, '_', '.' and '-', starting with a letter or digit`,
      { field: 'stage.id' },
    );
  }
  return `st_${stageId}`;
}

/** The stage a backend name stands for, or undefined when it is not a stage backend. */
export function stageIdOfBackend(backend: string): string | undefined {
  const stageId = backend.slice(3);
  return backend.startsWith('st_') && stageIdPattern.test(stageId) ? stageId : undefined;
}
