import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EdgeAuth } from './auth-rules.ts';
import { writePrivate } from './certificates.ts';
import { diffMap, mapChangeCount, renderMapFile, type DesiredStage } from './plan.ts';
import type { MapEntry, RuntimeApi } from './runtime-api.ts';

/**
 * The files of the edge session's rules (auth-rules.ts) in the data plane's
 * directory: the sign-in map, the revoked map, and one public key file a
 * published session key (`session-keys/<kid>.pem`; public halves only).
 * The maps change at runtime; a key file is read by HAProxy at start only,
 * so a new key is the one change here that needs a reload.
 */

/** What the identity module says the edge should enforce (sessions' edgeState). */
export interface EdgeAuthState {
  readonly keys: readonly { readonly kid: string; readonly publicPem: string }[];
  readonly signIn: readonly {
    readonly tenant: string;
    readonly stage: string;
    readonly mode: 'required' | 'optional';
  }[];
  readonly revoked: readonly string[];
}

export interface EdgeAuthSource {
  edgeState(): Promise<EdgeAuthState>;
}

/** The maps' entries for the stage backends there are (pure). */
export function authEntries(
  state: EdgeAuthState,
  stages: readonly DesiredStage[],
): { readonly signIn: MapEntry[]; readonly revoked: MapEntry[] } {
  const modes = new Map(state.signIn.map((entry) => [`${entry.tenant}/${entry.stage}`, entry.mode]));
  const signIn = stages
    .flatMap((stage): MapEntry[] => {
      const mode = modes.get(`${stage.tenant}/${stage.stage}`);
      return mode ? [{ key: stage.backend, value: mode }] : [];
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const revoked = [...new Set(state.revoked)].sort().map((sid) => ({ key: sid, value: '1' }));
  return { signIn, revoked };
}

export class AuthFiles {
  readonly #dir: string;

  constructor(dataPlaneDir: string) {
    this.#dir = dataPlaneDir;
  }

  get signInMap(): string {
    return join(this.#dir, 'signin.map');
  }

  get revokedMap(): string {
    return join(this.#dir, 'revoked-sessions.map');
  }

  keyFile(kid: string): string {
    return join(this.#dir, 'session-keys', `${kid}.pem`);
  }

  /** The rules' inputs as config.ts renders them; none without a key. */
  edgeAuth(state: EdgeAuthState | undefined): EdgeAuth | undefined {
    if (!state || state.keys.length === 0) return undefined;
    return {
      signInMap: this.signInMap,
      revokedMap: this.revokedMap,
      keys: state.keys.map((key) => ({ kid: key.kid, file: this.keyFile(key.kid) })),
    };
  }

  /** Writes the maps and key files (before a start or reload, and on every pass: a reload reads them). */
  async write(state: EdgeAuthState | undefined, stages: readonly DesiredStage[]): Promise<void> {
    if (!state) return;
    const entries = authEntries(state, stages);
    await mkdir(join(this.#dir, 'session-keys'), { recursive: true, mode: 0o700 });
    for (const key of state.keys) await writePrivate(this.keyFile(key.kid), key.publicPem);
    await writePrivate(this.signInMap, renderMapFile(entries.signIn));
    await writePrivate(this.revokedMap, renderMapFile(entries.revoked));
  }

  /** Brings the running HAProxy's maps to the state, entry by entry. Returns the number of changes. */
  async apply(
    api: RuntimeApi,
    state: EdgeAuthState | undefined,
    stages: readonly DesiredStage[],
  ): Promise<number> {
    // Without a stage backend (or a key) the rules are not rendered and HAProxy has not loaded the maps.
    if (!state || state.keys.length === 0 || stages.length === 0) return 0;
    const entries = authEntries(state, stages);
    let changes = 0;
    for (const [file, desired] of [
      [this.signInMap, entries.signIn],
      [this.revokedMap, entries.revoked],
    ] as const) {
      const diff = diffMap(await api.showMap(file), desired);
      for (const key of diff.del) await api.namedEntry(file, 'del', key);
      for (const entry of diff.set) await api.namedEntry(file, 'set', entry.key, entry.value);
      for (const entry of diff.add) await api.namedEntry(file, 'add', entry.key, entry.value);
      changes += mapChangeCount(diff);
    }
    return changes;
  }

  /** Removes key files no longer published (after the reload that dropped them). */
  async prune(state: EdgeAuthState | undefined): Promise<void> {
    const wanted = new Set((state?.keys ?? []).map((key) => `${key.kid}.pem`));
    for (const name of await readdir(join(this.#dir, 'session-keys')).catch(() => [])) {
      if (!wanted.has(name)) await rm(join(this.#dir, 'session-keys', name), { force: true });
    }
  }
}
