import { createConnection } from 'node:net';
import { InputError, UnavailableError, showValue } from '../core/errors.ts';
import { parseCidr } from '../gateway/allow-list.ts';
import {
  addressWithPort,
  checkAddress,
  checkHost,
  checkName,
  checkPath,
  checkPem,
  checkPort,
} from './names.ts';

/**
 * HAProxy's runtime API over its Unix socket, as typed commands. Every value
 * is checked against a closed alphabet before it joins a command line (HAProxy
 * splits on spaces and `;`, and a newline ends a command), and every answer is
 * parsed: a command HAProxy refused throws, with its answer, never passes
 * silently.
 */

export const serverStates = ['ready', 'drain', 'maint'] as const;
export type ServerState = (typeof serverStates)[number];

export interface MapEntry {
  readonly key: string;
  readonly value: string;
}

/** One row of `show servers state`: the fields the control plane acts on. */
export interface ServerStateRow {
  readonly backend: string;
  readonly server: string;
  readonly address: string;
  readonly port: number;
  /** 0 stopped, 1 starting, 2 running, 3 stopping (HAProxy's srv_op_state). */
  readonly operationalState: number;
  /** Bit field: 0x01 forced maintenance, 0x08 forced drain, … (HAProxy's srv_admin_state). */
  readonly adminState: number;
  /** The weight set by the config or `set weight` (srv_uweight); 0 takes no new requests, like a drain. */
  readonly weight: number;
}

/** One row of `show stat`: a backend's (`name` BACKEND) or a server's live counters, by column name. */
export interface StatRow {
  readonly proxy: string;
  readonly name: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** HAProxy refused a command or could not be reached; `command` is the verb only, never the values. */
export class RuntimeApiError extends UnavailableError {
  readonly command: string;
  readonly response: string;
  constructor(command: string, response: string, options: { cause?: unknown } = {}) {
    const shown = response.trim().slice(0, 300);
    super(`HAProxy's runtime API refused "${command}": ${shown === '' ? '(no answer)' : shown}`, options);
    this.command = command;
    this.response = response;
  }
}

/** Whether HAProxy refused a command because the backend (or proxy) it names does not exist. */
export function isUnknownBackend(error: unknown): boolean {
  return (
    error instanceof RuntimeApiError &&
    /^(No such backend\.|Can't find backend\.|No such proxy\.)/m.test(error.response.trim())
  );
}

/** Whether HAProxy refused a command because the server it names does not exist in its backend. */
export function isUnknownServer(error: unknown): boolean {
  return error instanceof RuntimeApiError && /^No such server\./m.test(error.response.trim());
}

/** Sends one command on its own connection and returns the whole answer (HAProxy closes after it). */
export function sendCommand(socketPath: string, line: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = createConnection(socketPath);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.end(line.endsWith('\n') ? line : `${line}\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Bytes of `key value` lines in one `add map` payload (HAProxy's CLI buffer is 16 KiB by default). */
const mapPayloadBytes = 8 * 1024;

function checkMapFile(mapFile: string): string {
  return checkPath('map', mapFile);
}

function checkMapValue(value: string): string {
  return checkName('map value', value);
}

function checkVersion(version: string): string {
  if (!/^[0-9]{1,12}$/.test(version)) {
    throw new InputError(
      `map version ${showValue(version)} is not accepted: use the number "prepare map" returned`,
      {
        field: 'version',
      },
    );
  }
  return version;
}

function serverRef(backend: string, server: string): string {
  return `${checkName('backend', backend)}/${checkName('server', server)}`;
}

export function parseShowMap(text: string): MapEntry[] {
  const entries: MapEntry[] = [];
  for (const line of text.split('\n')) {
    // `<pointer> <key> <value>`; keys are host names (no spaces), values backend names.
    const match = /^0x[0-9a-f]+ (\S+) (\S+)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) entries.push({ key: match[1], value: match[2] });
  }
  return entries;
}

export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines.find((line) => line.startsWith('# '));
  if (lines[0]?.trim() !== '1' || !header) throw new RuntimeApiError('show servers state', text);
  const columns = header.slice(2).split(' ');
  const at = (row: string[], name: string): string => row[columns.indexOf(name)] ?? '';
  return lines
    .filter((line) => line !== lines[0] && !line.startsWith('#'))
    .map((line) => {
      const row = line.split(' ');
      return {
        backend: at(row, 'be_name'),
        server: at(row, 'srv_name'),
        address: at(row, 'srv_addr'),
        port: Number(at(row, 'srv_port')),
        operationalState: Number(at(row, 'srv_op_state')),
        adminState: Number(at(row, 'srv_admin_state')),
        weight: Number(at(row, 'srv_uweight')),
      };
    });
}

export interface CrtListEntry {
  readonly file: string;
  readonly sni: readonly string[];
}

/** `show ssl crt-list <file>`: `<cert> [options] [sni…]` a line, after a `# <file>` header. */
export function parseCrtList(text: string): CrtListEntry[] {
  const entries: CrtListEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const withoutOptions = line.replace(/\[[^\]]*\]/, ' ');
    const [file = '', ...sni] = withoutOptions.split(/\s+/).filter((part) => part !== '');
    entries.push({ file, sni });
  }
  return entries;
}

export function parseStat(text: string): StatRow[] {
  const [header, ...rows] = text.split('\n');
  if (!header?.startsWith('# pxname,')) throw new RuntimeApiError('show stat', text);
  const columns = header.slice(2).split(',');
  return rows
    .filter((row) => row.trim() !== '')
    .map((row) => {
      const cells = row.split(',');
      const fields: Record<string, string> = {};
      for (const [index, column] of columns.entries()) if (column !== '') fields[column] = cells[index] ?? '';
      return { proxy: cells[0] ?? '', name: cells[1] ?? '', fields };
    });
}

export function parseInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) info[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return info;
}

export class RuntimeApi {
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.socketPath = checkPath('socket', socketPath);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Runs a command; `ok` says whether the answer means success. */
  async #run(verb: string, line: string, ok: (answer: string) => boolean): Promise<string> {
    let answer: string;
    try {
      answer = await sendCommand(this.socketPath, line, this.#timeoutMs);
    } catch (error) {
      throw new RuntimeApiError(verb, `cannot reach ${this.socketPath}`, { cause: error });
    }
    if (!ok(answer)) throw new RuntimeApiError(verb, answer);
    return answer;
  }

  #silent(verb: string, line: string): Promise<string> {
    return this.#run(verb, line, (answer) => answer.trim() === '');
  }

  async showInfo(): Promise<Record<string, string>> {
    const info = parseInfo(
      await this.#run('show info', 'show info', (answer) => answer.startsWith('Name: HAProxy')),
    );
    return info;
  }

  async showMap(mapFile: string): Promise<MapEntry[]> {
    const answer = await this.#run('show map', `show map ${checkMapFile(mapFile)}`, (text) =>
      text.split('\n').every((line) => line === '' || line.startsWith('0x')),
    );
    return parseShowMap(answer);
  }

  async addMapEntry(mapFile: string, host: string, backend: string): Promise<void> {
    await this.#silent(
      'add map',
      `add map ${checkMapFile(mapFile)} ${checkHost('host', host)} ${checkMapValue(backend)}`,
    );
  }

  async setMapEntry(mapFile: string, host: string, backend: string): Promise<void> {
    await this.#silent(
      'set map',
      `set map ${checkMapFile(mapFile)} ${checkHost('host', host)} ${checkMapValue(backend)}`,
    );
  }

  async delMapEntry(mapFile: string, host: string): Promise<void> {
    await this.#silent('del map', `del map ${checkMapFile(mapFile)} ${checkHost('host', host)}`);
  }

  /** Routes `host` to `backend`, whether or not it had a route. */
  async putMapEntry(mapFile: string, host: string, backend: string): Promise<void> {
    const existing = (await this.showMap(mapFile)).find((entry) => entry.key === host);
    if (existing?.value === backend) return;
    if (existing) await this.setMapEntry(mapFile, host, backend);
    else await this.addMapEntry(mapFile, host, backend);
  }

  /** Replaces the whole map at once: requests see the old entries or the new ones, never a mix. */
  async replaceMap(mapFile: string, entries: readonly MapEntry[]): Promise<void> {
    const file = checkMapFile(mapFile);
    for (const entry of entries) {
      checkHost('host', entry.key);
      checkMapValue(entry.value);
    }
    const prepared = await this.#run('prepare map', `prepare map ${file}`, (text) =>
      /New version created: \d+/.test(text),
    );
    const version = checkVersion(/New version created: (\d+)/.exec(prepared)?.[1] ?? '');
    // Many entries per command (a payload, one `key value` a line): 10,000 routes took 10,000
    // connections and 3 s one by one. A batch stays well inside HAProxy's CLI buffer.
    let batch: string[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await this.#silent('add map', `add map @${version} ${file} <<\n${batch.join('\n')}\n\n`);
      batch = [];
      bytes = 0;
    };
    for (const entry of entries) {
      const line = `${entry.key} ${entry.value}`;
      if (bytes + line.length + 1 > mapPayloadBytes) await flush();
      batch.push(line);
      bytes += line.length + 1;
    }
    await flush();
    await this.#silent('commit map', `commit map @${version} ${file}`);
  }

  /** The entries of an ACL file (a stage's allow list): addresses and CIDR ranges as HAProxy holds them. */
  async showAcl(aclFile: string): Promise<string[]> {
    const answer = await this.#run('show acl', `show acl ${checkPath('acl', aclFile)}`, (text) =>
      text.split('\n').every((line) => line === '' || line.startsWith('0x')),
    );
    return answer
      .split('\n')
      .map((line) => /^0x[0-9a-f]+ (\S+)$/.exec(line.trim())?.[1])
      .filter((value): value is string => value !== undefined);
  }

  /**
   * Replaces a stage's allow list at once (prepare, fill, commit): requests
   * see the old list or the new one, never a mix, and an empty list lets
   * nobody in. Each entry is an address or CIDR range; a bad one is refused
   * before HAProxy hears of any.
   */
  async replaceAcl(aclFile: string, ranges: readonly string[]): Promise<void> {
    const file = checkPath('acl', aclFile);
    const entries = ranges.map((range, at) => parseCidr(range, `ranges[${at}]`).text);
    const prepared = await this.#run('prepare acl', `prepare acl ${file}`, (text) =>
      /New version created: \d+/.test(text),
    );
    const version = checkVersion(/New version created: (\d+)/.exec(prepared)?.[1] ?? '');
    for (const entry of entries) await this.#silent('add acl', `add acl @${version} ${file} ${entry}`);
    await this.#silent('commit acl', `commit acl @${version} ${file}`);
  }

  /** Puts a stage backend in maintenance (its requests get the maintenance page) or takes it out. */
  async setMaintenance(mapFile: string, backend: string, on: boolean): Promise<void> {
    const file = checkMapFile(mapFile);
    const name = checkName('backend', backend);
    const present = (await this.showMap(file)).some((entry) => entry.key === name);
    if (on && !present) await this.#silent('add map', `add map ${file} ${name} 1`);
    if (!on && present) await this.#silent('del map', `del map ${file} ${name}`);
  }

  /**
   * One entry of a map keyed by a name rather than a host (the sign-in map:
   * backend -> mode; the revoked sessions: sid -> 1): added, changed or removed.
   */
  async namedEntry(mapFile: string, op: 'add' | 'set' | 'del', key: string, value = '1'): Promise<void> {
    const file = checkMapFile(mapFile);
    const name = checkName('key', key);
    if (op === 'del') {
      await this.#silent('del map', `del map ${file} ${name}`);
      return;
    }
    await this.#silent(`${op} map`, `${op} map ${file} ${name} ${checkMapValue(value)}`);
  }

  /** Sets a tenant's request rate (whole requests per second), or removes it (the default rate applies) with `undefined`. */
  async setTenantRate(mapFile: string, tenant: string, ratePerSecond: number | undefined): Promise<void> {
    const file = checkMapFile(mapFile);
    const name = checkName('tenant', tenant);
    if (ratePerSecond !== undefined && (!Number.isInteger(ratePerSecond) || ratePerSecond < 1)) {
      throw new InputError(
        `ratePerSecond ${showValue(ratePerSecond)} is not accepted: use a whole number of requests per second, 1 or more`,
        { field: 'ratePerSecond' },
      );
    }
    const present = (await this.showMap(file)).some((entry) => entry.key === name);
    if (ratePerSecond === undefined) {
      if (present) await this.#silent('del map', `del map ${file} ${name}`);
    } else if (present) await this.#silent('set map', `set map ${file} ${name} ${ratePerSecond}`);
    else await this.#silent('add map', `add map ${file} ${name} ${ratePerSecond}`);
  }

  /** Adds an app instance to a stage backend; it starts in maintenance (HAProxy's rule), `setServerState` opens it. */
  async addServer(backend: string, server: string, address: string, port: number): Promise<void> {
    const target = addressWithPort(checkAddress('address', address), checkPort('port', port));
    // HAProxy 2.6 keeps no idle connection to a server added at runtime unless told: without these
    // (a configured server's defaults), every request opened a new connection to the app, and
    // bench/gateway measured a third of the throughput.
    const pool = 'pool-max-conn -1 pool-purge-delay 5s';
    await this.#run('add server', `add server ${serverRef(backend, server)} ${target} ${pool}`, (answer) =>
      answer.includes('New server registered.'),
    );
  }

  async setServerState(backend: string, server: string, state: ServerState): Promise<void> {
    if (!serverStates.includes(state)) {
      throw new InputError(`state ${showValue(state)} is not accepted: use ${serverStates.join(', ')}`, {
        field: 'state',
      });
    }
    await this.#silent('set server state', `set server ${serverRef(backend, server)} state ${state}`);
  }

  /** Weight 0 takes no new requests (a drain); a server rendered `weight 0` by a reload needs its weight back to serve. */
  async setServerWeight(backend: string, server: string, weight: number): Promise<void> {
    if (!Number.isInteger(weight) || weight < 0 || weight > 256) {
      throw new InputError(`weight ${showValue(weight)} is not accepted: use an integer from 0 to 256`, {
        field: 'weight',
      });
    }
    await this.#silent('set weight', `set weight ${serverRef(backend, server)} ${weight}`);
  }

  /** Closes every stream a server still carries (a retire whose drain ran out of time). */
  async shutdownSessions(backend: string, server: string): Promise<void> {
    await this.#silent('shutdown sessions', `shutdown sessions server ${serverRef(backend, server)}`);
  }

  async setServerAddress(backend: string, server: string, address: string, port: number): Promise<void> {
    const line = `set server ${serverRef(backend, server)} addr ${checkAddress('address', address)} port ${checkPort('port', port)}`;
    await this.#run('set server addr', line, (answer) => /changed from|no need to change/i.test(answer));
  }

  /** Puts the server in maintenance, then removes it; HAProxy refuses while it still has connections. */
  async delServer(backend: string, server: string): Promise<void> {
    const ref = serverRef(backend, server);
    await this.#silent('disable server', `disable server ${ref}`);
    await this.#run('del server', `del server ${ref}`, (answer) => answer.includes('Server deleted.'));
  }

  async showServersState(backend?: string): Promise<ServerStateRow[]> {
    const line =
      backend === undefined ? 'show servers state' : `show servers state ${checkName('backend', backend)}`;
    return parseServersState(
      await this.#run('show servers state', line, (answer) => answer.startsWith('1\n')),
    );
  }

  /** The live counters of one server (`show stat`): current sessions and queue, to know when a drain is done. */
  async serverSessions(backend: string, server: string): Promise<{ current: number; queued: number }> {
    const row = (await this.showStat('servers', backend)).find((candidate) => candidate.name === server);
    if (!row) throw new RuntimeApiError('show stat', `no server ${backend}/${server}`);
    return { current: Number(row.fields.scur), queued: Number(row.fields.qcur) };
  }

  /**
   * `show stat` for backends or servers, of one backend or of all: its
   * `scur`, `qcur`, `lastsess`, … by column name.
   */
  async showStat(kind: 'backends' | 'servers', backend?: string): Promise<StatRow[]> {
    const proxy = backend === undefined ? '-1' : checkName('backend', backend);
    const type = kind === 'backends' ? 2 : 4;
    return parseStat(
      await this.#run('show stat', `show stat ${proxy} ${type} -1`, (text) => text.startsWith('# pxname,')),
    );
  }

  /** Creates, fills and commits a certificate in HAProxy's memory; the file name is its key in crt-lists. */
  async putCertificate(certFile: string, pem: string, options: { isNew: boolean }): Promise<void> {
    const file = checkPath('certificate', certFile);
    const payload = checkPem('pem', pem);
    if (options.isNew) {
      await this.#run('new ssl cert', `new ssl cert ${file}`, (answer) =>
        answer.includes('New empty certificate store'),
      );
    }
    await this.#run('set ssl cert', `set ssl cert ${file} <<\n${payload}\n\n`, (answer) =>
      /Transaction (created|updated) for certificate/.test(answer),
    );
    await this.#run(
      'commit ssl cert',
      `commit ssl cert ${file}`,
      (answer) => /Success!/.test(answer) && !/[Ee]rror/.test(answer),
    );
  }

  /** The certificate files in HAProxy's memory (committed ones; a `*` marks one in a transaction). */
  async showCertificates(): Promise<string[]> {
    const answer = await this.#run('show ssl cert', 'show ssl cert', (text) => text.startsWith('#'));
    return answer
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('*'));
  }

  /** A crt-list's entries: each certificate file with its SNI filters (options in brackets left out). */
  async showCrtList(crtList: string): Promise<CrtListEntry[]> {
    const list = checkPath('crt-list', crtList);
    const answer = await this.#run('show ssl crt-list', `show ssl crt-list ${list}`, (text) =>
      text.startsWith('#'),
    );
    return parseCrtList(answer);
  }

  /** Stops serving a certificate file from a crt-list (every SNI filter of its entry goes with it). */
  async delCrtListEntry(crtList: string, certFile: string): Promise<void> {
    const line = `del ssl crt-list ${checkPath('crt-list', crtList)} ${checkPath('certificate', certFile)}`;
    await this.#run('del ssl crt-list', line, (answer) => /deleted/i.test(answer) && !/error/i.test(answer));
  }

  /** Removes an unused certificate from HAProxy's memory. */
  async delCertificate(certFile: string): Promise<void> {
    const line = `del ssl cert ${checkPath('certificate', certFile)}`;
    await this.#run('del ssl cert', line, (answer) => /deleted/i.test(answer) && !/error/i.test(answer));
  }

  /** Serves a committed certificate for the given SNI names (an exact `acme.example.com` or a `*.example.com`). */
  async addCrtListEntry(crtList: string, certFile: string, sniNames: readonly string[]): Promise<void> {
    const list = checkPath('crt-list', crtList);
    const file = checkPath('certificate', certFile);
    const names = sniNames.map((name) => {
      const bare = name.startsWith('*.') ? name.slice(2) : name;
      checkHost('sni', bare);
      return name;
    });
    await this.#run(
      'add ssl crt-list',
      `add ssl crt-list ${list} <<\n${[file, ...names].join(' ')}\n\n`,
      (answer) => /Success!/.test(answer),
    );
  }
}
