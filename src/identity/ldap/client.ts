import { lookup } from 'node:dns/promises';
import { BlockList, connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import {
  AdminLimitExceededError,
  Client,
  InsufficientAccessError,
  InvalidCredentialsError,
  NoSuchObjectError,
  SizeLimitExceededError,
  TimeLimitExceededError,
} from 'ldapts';
import { showValue } from '../../core/errors.ts';
import type { RawEntry } from './entries.ts';
import { binaryAttributes, type LdapSettings } from './settings.ts';

/**
 * The LDAP driver: connects over TLS (ldaps://, or ldap:// upgraded with
 * StartTLS before the bind; never a bind in clear), binds as the tenant's
 * service account, and reads the users and groups with paged searches,
 * bounded in entries and time. An incomplete search (a size or time limit)
 * is returned as such, with what was read; anything else that fails throws
 * an LdapError that says what to check, never the password.
 */
export interface LdapRead {
  readonly users: readonly RawEntry[];
  /** null: groups are not synced (no group base DN). */
  readonly groups: readonly RawEntry[] | null;
  /** Why the search may have missed entries; null when it is complete. */
  readonly incomplete: string | null;
}

/** The sync's one port to a directory server (tests and the service use the real one). */
export interface DirectoryReader {
  read(settings: LdapSettings, password: string, progress: (message: string) => void): Promise<LdapRead>;
}

export interface SearchLimits {
  /** More entries than this (users and groups each) make the search incomplete. */
  readonly maxEntries: number;
  readonly pageSize: number;
  /** Each operation (connect, StartTLS, bind, a page). */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
}

export const defaultSearchLimits: SearchLimits = {
  maxEntries: 100_000,
  pageSize: 500,
  timeoutMs: 30_000,
  connectTimeoutMs: 10_000,
};

/** A directory server that could not be read: the message says what failed and what to check. */
export class LdapError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'LdapError';
  }
}

/**
 * Addresses a tenant's directory may not be on: Steward's own machine
 * (loopback, unspecified) and link-local (cloud metadata). A tenant admin
 * sets the URL; the sync must not become a way to reach Steward's own
 * services or to scan them.
 */
const forbidden = new BlockList();
forbidden.addSubnet('127.0.0.0', 8, 'ipv4');
forbidden.addSubnet('0.0.0.0', 8, 'ipv4');
forbidden.addSubnet('169.254.0.0', 16, 'ipv4');
forbidden.addAddress('::1', 'ipv6');
forbidden.addAddress('::', 'ipv6');
forbidden.addSubnet('fe80::', 10, 'ipv6');

function isForbidden(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return forbidden.check(mapped, 'ipv4');
  return forbidden.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

export interface LdapReaderOptions {
  readonly limits?: Partial<SearchLimits>;
  /** Directories on this machine's loopback addresses are allowed (tests; config identity.ldapAllowLoopback). */
  readonly allowLoopback?: boolean;
}

export class LdapReader implements DirectoryReader {
  readonly #limits: SearchLimits;
  readonly #allowLoopback: boolean;

  constructor(options: LdapReaderOptions = {}) {
    this.#limits = { ...defaultSearchLimits, ...options.limits };
    this.#allowLoopback = options.allowLoopback ?? false;
  }

  /** The address to connect to: resolved once, checked, and then used (no second lookup to rebind). */
  async #address(settings: LdapSettings, hostname: string): Promise<string> {
    let addresses: string[];
    try {
      addresses = isIP(hostname) ? [hostname] : (await lookup(hostname, { all: true })).map((a) => a.address);
    } catch (error) {
      throw new LdapError(`could not resolve the host of ${settings.url}: ${ldapReason(error)}`, {
        cause: error,
      });
    }
    const bad = addresses.find((a) => isForbidden(a) && !(this.#allowLoopback && !a.startsWith('169.254.')));
    if (bad !== undefined || addresses.length === 0) {
      throw new LdapError(
        `${settings.url} resolves to ${bad ?? 'no address'}, on Steward's own machine or link-local: a tenant's directory must be on a host of its own`,
      );
    }
    return addresses[0] as string;
  }

  async read(
    settings: LdapSettings,
    password: string,
    progress: (message: string) => void,
  ): Promise<LdapRead> {
    const url = new URL(settings.url);
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const tls: ConnectionOptions = {
      minVersion: 'TLSv1.2',
      ...(settings.caPem ? { ca: settings.caPem } : {}),
      // SNI only for names: an address is checked against the certificate's IP names.
      ...(isIP(hostname) ? { host: hostname } : { servername: hostname, host: hostname }),
    };
    const address = await this.#address(settings, hostname);
    const client = new Client({
      url: settings.url,
      timeout: this.#limits.timeoutMs,
      connectTimeout: this.#limits.connectTimeoutMs,
      // To the checked address; TLS still checks the certificate against the URL's host name.
      createConnection: ((port: number) => netConnect(port, address)) as typeof netConnect,
      // Called with (port, host, options) for ldaps://, and with options holding the socket for StartTLS.
      createSecureConnection: (first: number | ConnectionOptions) =>
        typeof first === 'number' ? tlsConnect(first, address, tls) : tlsConnect(first),
      ...(url.protocol === 'ldaps:' ? { tlsOptions: tls } : {}),
    });
    try {
      progress(`connecting to ${settings.url}`);
      try {
        if (url.protocol === 'ldap:') await client.startTLS(tls);
        await client.bind(settings.bindDn, password);
      } catch (error) {
        throw connectError(settings, error);
      }
      const a = settings.attributes;
      const userAttributes = [
        ...new Set(
          [
            a.userName,
            a.externalId,
            a.email,
            a.displayName,
            a.givenName,
            a.familyName,
            a.accountControl,
          ].filter((name): name is string => name !== null),
        ),
      ];
      const users = await this.#search(client, settings.baseDn, settings.userFilter, userAttributes, (n) =>
        progress(`reading users: ${n} entries`),
      );
      let groups: Search | null = null;
      if (settings.groupBaseDn !== null) {
        groups = await this.#search(
          client,
          settings.groupBaseDn,
          settings.groupFilter,
          [settings.attributes.groupName, settings.attributes.groupExternalId, settings.memberAttribute],
          (n) => progress(`reading groups: ${n} entries`),
        );
      }
      const incomplete = [users.incomplete, groups?.incomplete]
        .filter((r): r is string => typeof r === 'string')
        .join('; ');
      return { users: users.entries, groups: groups?.entries ?? null, incomplete: incomplete || null };
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  async #search(
    client: Client,
    base: string,
    filter: string,
    attributes: readonly string[],
    progress: (count: number) => void,
  ): Promise<Search> {
    const entries: RawEntry[] = [];
    const buffers = binaryAttributes.filter((b) =>
      attributes.some((a) => a.toLowerCase() === b.toLowerCase()),
    );
    try {
      for await (const page of client.searchPaginated(base, {
        scope: 'sub',
        filter,
        attributes: [...attributes],
        explicitBufferAttributes: [...buffers],
        paged: { pageSize: this.#limits.pageSize },
        timeLimit: Math.ceil(this.#limits.timeoutMs / 1000),
      })) {
        for (const entry of page.searchEntries) {
          if (entries.length >= this.#limits.maxEntries) {
            return { entries, incomplete: `more than ${this.#limits.maxEntries} entries under ${base}` };
          }
          entries.push(entry);
        }
        progress(entries.length);
      }
      return { entries, incomplete: null };
    } catch (error) {
      if (
        error instanceof SizeLimitExceededError ||
        error instanceof TimeLimitExceededError ||
        error instanceof AdminLimitExceededError
      ) {
        return {
          entries,
          incomplete: `the server stopped the search under ${base} after ${entries.length} entries: ${limitOf(error)}`,
        };
      }
      if (error instanceof NoSuchObjectError) {
        throw new LdapError(`the base DN ${showValue(base)} does not exist on the server`, { cause: error });
      }
      if (error instanceof InsufficientAccessError) {
        throw new LdapError(`the bind DN may not search under ${showValue(base)} (insufficient access)`, {
          cause: error,
        });
      }
      throw new LdapError(
        `the search under ${showValue(base)} failed after ${entries.length} entries: ${ldapReason(error)}`,
        {
          cause: error,
        },
      );
    }
  }
}

interface Search {
  readonly entries: RawEntry[];
  readonly incomplete: string | null;
}

function limitOf(error: SizeLimitExceededError | TimeLimitExceededError | AdminLimitExceededError): string {
  if (error instanceof SizeLimitExceededError) return 'its size limit was reached (sizeLimitExceeded)';
  if (error instanceof TimeLimitExceededError) return 'its time limit was reached (timeLimitExceeded)';
  return 'an administrative limit was reached (adminLimitExceeded)';
}

/** A server's or socket's reason, bounded: a tenant's server chooses its words. */
function ldapReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  const text = message.length > 200 ? `${message.slice(0, 197)}...` : message;
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}

function connectError(settings: LdapSettings, error: unknown): LdapError {
  if (error instanceof LdapError) return error;
  if (error instanceof InvalidCredentialsError) {
    return new LdapError(
      `the LDAP server refused the bind as ${showValue(settings.bindDn)}: invalid credentials (check the bind DN and set the password again with --bind-password-stdin)`,
      { cause: error },
    );
  }
  const reason = ldapReason(error);
  const tls = /certificate|self.signed|TLS|SSL|handshake|altnames|unable to verify/i.test(reason);
  return new LdapError(
    tls
      ? `TLS with ${settings.url} failed: ${reason} (is the CA right? give it with --ca-file)`
      : `could not connect and bind to ${settings.url}: ${reason}`,
    { cause: error },
  );
}
