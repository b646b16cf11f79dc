import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { logPassFailure } from '../core/logger.ts';

/**
 * The console on a gateway-only node (`steward up --role gateway`): no API
 * runs there, so the console host goes to the API of a live node of the same
 * control database, found where each node records where its API listens (the
 * nodes table, `steward node list`). The gateway keeps following it: a node
 * that stops or falls silent is replaced by another live one within a pass.
 */

/** A node as the gateway sees it: its name, where its API listens, whether it beats. */
export interface ApiNode {
  readonly name: string;
  readonly apiUrl: string | null;
  readonly health: 'live' | 'late' | 'gone';
}

/** Where the data plane reaches an API: an IP literal (HAProxy's server line), its port, whether it speaks TLS. */
export interface ApiUpstream {
  readonly address: string;
  readonly port: number;
  readonly tls: boolean;
}

/**
 * The API the console host goes to: the current one while its node is not
 * gone (no reload for nothing), else the first live node by name, else the
 * first late one (it missed beats under load, but its lease still holds);
 * undefined when no such node has an API the data plane can name (then the
 * console host is not routed and answers like an unknown host).
 */
export function chooseApiUpstream(
  nodes: readonly ApiNode[],
  current: ApiUpstream | undefined,
): ApiUpstream | undefined {
  const rank = (node: ApiNode): number => (node.health === 'live' ? 0 : 1);
  const candidates = [...nodes]
    .filter((node) => node.health !== 'gone')
    .sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((node) => apiUpstreamOf(node.apiUrl))
    .filter((upstream): upstream is ApiUpstream => upstream !== undefined);
  return (
    candidates.find((upstream) => current !== undefined && sameUpstream(upstream, current)) ?? candidates[0]
  );
}

/**
 * A node's API URL as the data plane reaches it; undefined for a URL that
 * names a host rather than an address (HAProxy's config names servers by
 * address) or is not http(s). An API listening on every address recorded
 * itself by the unspecified one: the loopback reaches it from this machine.
 */
export function apiUpstreamOf(apiUrl: string | null): ApiUpstream | undefined {
  if (apiUrl === null) return undefined;
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) === 0) return undefined;
  const address = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const tls = url.protocol === 'https:';
  const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
  return { address, port, tls };
}

function sameUpstream(a: ApiUpstream, b: ApiUpstream): boolean {
  return a.address === b.address && a.port === b.port && a.tls === b.tls;
}

export interface ApiFollowerOptions {
  readonly nodes: { list(): Promise<readonly ApiNode[]> };
  /** The data plane's console route (DataPlane.useConsole). */
  readonly route: (
    api: ApiUpstream & { readonly edgeKey: string },
    options: { readonly refresh?: boolean },
  ) => Promise<void>;
  /** The key the API takes X-Forwarded-For with (console/edge.ts): the one the API nodes use. */
  readonly edgeKey: string;
  readonly logger: Logger;
  readonly intervalMs?: number;
}

/** Keeps a gateway's console route on a live API node: one pass, and a timer that only calls it. */
export class ConsoleApiFollower {
  readonly #o: ApiFollowerOptions;
  #current: ApiUpstream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #passing: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ApiFollowerOptions) {
    this.#o = options;
  }

  /** The API the console host goes to now. */
  get current(): ApiUpstream | undefined {
    return this.#current;
  }

  /**
   * One pass: reads the nodes, and names a new API to the data plane when it
   * changed (with refresh false before the data plane starts: its first
   * config already routes the console).
   */
  async pass(options: { readonly refresh?: boolean } = {}): Promise<void> {
    const chosen = chooseApiUpstream(await this.#o.nodes.list(), this.#current);
    if (chosen === undefined) {
      if (this.#current !== undefined) {
        this.#o.logger.warn(
          { api: this.#current },
          'no live node runs an API: the console keeps its last one',
        );
      }
      return;
    }
    if (this.#current !== undefined && sameUpstream(chosen, this.#current)) return;
    await this.#o.route({ ...chosen, edgeKey: this.#o.edgeKey }, options);
    this.#o.logger.info({ api: chosen }, 'the console host goes to this API');
    this.#current = chosen;
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => void this.#tick(), this.#o.intervalMs ?? 2000);
    this.#timer.unref();
  }

  #tick(): Promise<void> {
    if (this.#passing) return this.#passing;
    this.#passing = this.pass()
      .catch((error: unknown) => logPassFailure(this.#o.logger, error, 'console route pass failed'))
      .finally(() => {
        this.#passing = undefined;
      });
    return this.#passing;
  }

  /** Stops the timer and waits for the pass in flight. Safe twice. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#passing;
  }
}
