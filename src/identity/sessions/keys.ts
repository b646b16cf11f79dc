import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import { sql } from 'kysely';
import type { Clock } from '../../core/clock.ts';
import { UnavailableError } from '../../core/errors.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';

/**
 * The ES256 keys that sign session tokens (table session_keys): the current
 * key signs, the next one is published ahead of use (JWKS, HAProxy's key
 * files, STEWARD_IDENTITY_JWKS), so a rotation makes the next key current
 * with no reader caught out. Private keys are sealed in the secrets store;
 * only their public halves are ever written to a file.
 */
export interface SecretStore {
  put(tx: Queryable, name: string, value: string): Promise<void>;
  get(name: string, tx?: Queryable): Promise<string>;
}

export interface PublicSessionKey {
  readonly kid: string;
  readonly state: 'current' | 'next' | 'retired';
  readonly publicPem: string;
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

const signingKeyCacheMs = 30_000;
const pagesKeyLock = 0x5737_0030;

/** A retired key is published until every token it signed has expired, with room for clocks. */
const retiredPublishedMs = 15 * 60 * 1000;

export class SessionKeys {
  readonly #db: ControlDb;
  readonly #secrets: SecretStore;
  readonly #clock: Clock;
  #signing: (SigningKey & { readonly at: number }) | undefined;
  /** The CSRF key of the sign-in pages (HMAC), from the secrets store. */
  #pagesKey: Buffer | undefined;

  constructor(db: ControlDb, secrets: SecretStore, clock: Clock) {
    this.#db = db;
    this.#secrets = secrets;
    this.#clock = clock;
  }

  /** Makes the current and next keys if missing (idempotent, safe from two processes at once). */
  async ensure(): Promise<void> {
    for (const state of ['current', 'next'] as const) {
      const held = await this.#db
        .selectFrom('session_keys')
        .select('kid')
        .where('state', '=', state)
        .executeTakeFirst();
      if (!held) await this.#create(state);
    }
  }

  async #create(state: 'current' | 'next'): Promise<void> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomBytes(8).toString('hex');
    const secretName = `identity/session-key/${kid}`;
    await this.#db.transaction().execute(async (tx) => {
      await this.#secrets.put(tx, secretName, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      await tx
        .insertInto('session_keys')
        .values({
          kid,
          state,
          public_pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          secret_name: secretName,
          activated_at: state === 'current' ? this.#clock.now() : null,
        })
        // Another process made it meanwhile: the unique index keeps one; this one's secret is left unused.
        .onConflict((oc) => oc.column('state').where('state', 'in', ['current', 'next']).doNothing())
        .execute();
    });
  }

  /** The keys a verifier needs: current, next, and retired ones whose tokens may still be alive. */
  async published(): Promise<PublicSessionKey[]> {
    const since = new Date(this.#clock.now().getTime() - retiredPublishedMs);
    const rows = await this.#db
      .selectFrom('session_keys')
      .select(['kid', 'state', 'public_pem'])
      .where((eb) => eb.or([eb('state', '<>', 'retired'), eb('retired_at', '>', since)]))
      .orderBy('kid')
      .execute();
    return rows.map((row) => ({
      kid: row.kid,
      state: row.state as PublicSessionKey['state'],
      publicPem: row.public_pem,
    }));
  }

  /** The key that signs now (cached; a rotation elsewhere is seen within the next `forget`). */
  async signing(): Promise<SigningKey> {
    // Re-read now and then: another process may have rotated (the next key verifies everywhere already).
    if (this.#signing && Date.now() - this.#signing.at < signingKeyCacheMs) return this.#signing;
    const row = await this.#db
      .selectFrom('session_keys')
      .select(['kid', 'secret_name'])
      .where('state', '=', 'current')
      .executeTakeFirst();
    if (!row) throw new UnavailableError('no session signing key yet: Steward makes one at start');
    const privateKey = createPrivateKey(await this.#secrets.get(row.secret_name));
    this.#signing = { kid: row.kid, privateKey, at: Date.now() };
    return this.#signing;
  }

  /** The pages' HMAC key for CSRF tokens: made once, sealed, shared by every Steward process. */
  async pagesKey(): Promise<Buffer> {
    if (this.#pagesKey) return this.#pagesKey;
    const name = 'identity/pages-csrf-key';
    // Made once under a lock: two processes starting together agree on one key.
    const value = await this.#db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${pagesKeyLock})`.execute(tx);
      const held = await this.#secrets.get(name, tx).catch(() => undefined);
      if (held !== undefined) return held;
      const fresh = randomBytes(32).toString('base64url');
      await this.#secrets.put(tx, name, fresh);
      return fresh;
    });
    this.#pagesKey = Buffer.from(value, 'base64url');
    return this.#pagesKey;
  }

  /**
   * Rotation: the next key becomes current, the current one retires (still
   * published until its tokens expire) and a new next key is made. HAProxy
   * already holds the next key, so only the new next key needs a reload.
   */
  async rotate(): Promise<{ readonly current: string; readonly next: string }> {
    const at = this.#clock.now();
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable('session_keys')
        .set({ state: 'retired', retired_at: at })
        .where('state', '=', 'current')
        .execute();
      await tx
        .updateTable('session_keys')
        .set({ state: 'current', activated_at: at })
        .where('state', '=', 'next')
        .execute();
    });
    this.forget();
    await this.ensure();
    const keys = await this.published();
    return {
      current: keys.find((key) => key.state === 'current')?.kid ?? '',
      next: keys.find((key) => key.state === 'next')?.kid ?? '',
    };
  }

  /** Drops the cached signing key (after a rotation notice). */
  forget(): void {
    this.#signing = undefined;
  }
}

/** The JSON Web Key Set of the published keys: what apps verify X-Steward-Identity with. */
export async function jwksOf(keys: readonly PublicSessionKey[]): Promise<{ keys: JWK[] }> {
  const out: JWK[] = [];
  for (const key of keys) {
    const jwk = await exportJWK(createPublicKey(key.publicPem));
    out.push({ ...jwk, kid: key.kid, alg: 'ES256', use: 'sig' });
  }
  return { keys: out };
}
