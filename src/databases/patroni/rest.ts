import { ConflictError, UnavailableError } from '../../core/errors.ts';
import { restUser } from './config.ts';

/** A member as Patroni's GET /cluster reports it. */
export interface PatroniMemberStatus {
  readonly name: string;
  /** `leader`, `sync_standby`, `replica` (or `standby_leader`). */
  readonly role: string;
  /** `running`, `streaming`, `starting`, `stopped`, `crashed`, `start failed`, … */
  readonly state: string;
  readonly host: string;
  readonly port: number;
  readonly apiUrl: string | undefined;
  readonly timeline: number | undefined;
  /** Bytes behind the leader (replicas only; `unknown` while Patroni cannot tell). */
  readonly lag: number | 'unknown' | undefined;
}

export interface PatroniClusterStatus {
  readonly members: readonly PatroniMemberStatus[];
  readonly paused: boolean;
}

/** Where a member's REST API answers: `host:port`. */
export interface RestAddress {
  readonly name: string;
  readonly host: string;
  readonly restPort: number;
}

/**
 * Patroni's REST API for one cluster. Reads (GET /cluster) go to whichever
 * member answers first; unsafe calls carry the basic-auth password (the API
 * refuses them without it: a stage process that reached the port could not
 * switch the cluster over).
 */
export class PatroniRest {
  readonly #members: readonly RestAddress[];
  readonly #authorization: string;
  readonly #timeoutMs: number;

  constructor(members: readonly RestAddress[], password: string, options: { timeoutMs?: number } = {}) {
    this.#members = members;
    this.#authorization = `Basic ${Buffer.from(`${restUser}:${password}`).toString('base64')}`;
    this.#timeoutMs = options.timeoutMs ?? 3_000;
  }

  async cluster(): Promise<PatroniClusterStatus> {
    const body = (await this.#anyMember('GET', '/cluster')) as {
      members?: Record<string, unknown>[];
      pause?: boolean;
    };
    return { members: (body.members ?? []).map(parseMember), paused: body.pause === true };
  }

  /** The leader's name, or undefined while there is none (an election, every member down). */
  async leader(): Promise<string | undefined> {
    const status = await this.cluster();
    return status.members.find((m) => m.role === 'leader' && m.state === 'running')?.name;
  }

  /** A planned switchover to `candidate` (or any healthy replica); Patroni refuses it without a leader. */
  async switchover(candidate?: string): Promise<void> {
    const leader = await this.leader();
    if (!leader) throw new ConflictError('the cluster has no leader to switch over from');
    await this.#anyMember('POST', '/switchover', { leader, ...(candidate ? { candidate } : {}) });
  }

  /** A failover to `candidate`, also when the cluster has no leader. */
  async failover(candidate: string): Promise<void> {
    await this.#anyMember('POST', '/failover', { candidate });
  }

  /** Restarts the member's PostgreSQL. */
  async restart(member: string): Promise<void> {
    await this.#member(member, 'POST', '/restart', {});
  }

  /** Throws the member's data away and copies it from the leader again. */
  async reinit(member: string): Promise<void> {
    await this.#member(member, 'POST', '/reinitialize', { force: true });
  }

  /** The cluster-wide (etcd-held) configuration. */
  async config(): Promise<Record<string, unknown>> {
    const body = await this.#anyMember('GET', '/config');
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  }

  /** Changes the cluster-wide (etcd-held) configuration: timings, synchronous mode; returns the new one. */
  async patchConfig(patch: Record<string, unknown>): Promise<Record<string, unknown>> {
    const body = await this.#anyMember('PATCH', '/config', patch);
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  }

  /** HTTP status of the member's GET /primary: 200 only on the running leader (what the router checks). */
  async primaryStatus(member: string): Promise<number | undefined> {
    const address = this.#address(member);
    try {
      const response = await fetch(`http://${address.host}:${address.restPort}/primary`, {
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      await response.body?.cancel();
      return response.status;
    } catch {
      return undefined;
    }
  }

  #address(member: string): RestAddress {
    const address = this.#members.find((m) => m.name === member);
    if (!address) {
      throw new ConflictError(
        `no member named ${JSON.stringify(member)}; the cluster has ${this.#members.map((m) => m.name).join(', ')}`,
      );
    }
    return address;
  }

  async #member(member: string, method: string, path: string, body?: unknown): Promise<unknown> {
    return this.#request(this.#address(member), method, path, body);
  }

  async #anyMember(method: string, path: string, body?: unknown): Promise<unknown> {
    let lastError: unknown;
    for (const member of this.#members) {
      try {
        return await this.#request(member, method, path, body);
      } catch (error) {
        if (error instanceof ConflictError) throw error;
        lastError = error;
      }
    }
    throw new UnavailableError(`no Patroni member answered ${method} ${path}`, { cause: lastError });
  }

  async #request(member: RestAddress, method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`http://${member.host}:${member.restPort}${path}`, {
      method,
      headers: {
        authorization: this.#authorization,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.#timeoutMs * (method === 'GET' ? 1 : 10)),
    });
    const text = await response.text();
    if (response.status === 503 && method !== 'GET') {
      // Patroni answers 503 when it refuses a switchover or failover (no candidate, paused): a decision, not an outage.
      throw new ConflictError(`Patroni refused ${method} ${path}: ${text.trim().slice(0, 300)}`);
    }
    if (!response.ok) {
      if (
        response.status === 401 ||
        response.status === 403 ||
        (response.status >= 400 && response.status < 500)
      )
        throw new ConflictError(
          `Patroni ${member.name} answered ${response.status} to ${method} ${path}: ${text.trim().slice(0, 300)}`,
        );
      throw new UnavailableError(`Patroni ${member.name} answered ${response.status} to ${method} ${path}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
}

function parseMember(raw: Record<string, unknown>): PatroniMemberStatus {
  const lag = raw.lag;
  return {
    name: String(raw.name),
    role: String(raw.role),
    state: String(raw.state),
    host: String(raw.host),
    port: Number(raw.port),
    apiUrl: typeof raw.api_url === 'string' ? raw.api_url : undefined,
    timeline: typeof raw.timeline === 'number' ? raw.timeline : undefined,
    lag: typeof lag === 'number' ? lag : lag === 'unknown' ? 'unknown' : undefined,
  };
}
