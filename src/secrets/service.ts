import { sql } from 'kysely';
import { InternalError, NotFoundError } from '../core/errors.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { newMasterKey, open, rewrap, seal } from './envelope.ts';
import { newKeyId, type Keyring, type KeyringStore } from './keyring.ts';

/**
 * Writers hold it shared while they seal with the active key; rotation takes it
 * exclusively once, after staging the new key, to wait out writers that may
 * still be sealing with the old one.
 */
const sealLockKey = 0x5737_5ec7;

export interface RotationReport {
  readonly previousKeyId: string;
  readonly keyId: string;
  readonly rewrapped: number;
}

/**
 * Secrets at rest: stored sealed in the control database, opened only in
 * memory, never logged. Callers pass a transaction to keep a secret with the
 * desired state that needs it.
 */
export class SecretService {
  readonly #db: ControlDb;
  readonly #store: KeyringStore;
  #keyring: Keyring;
  #rotation: Promise<unknown> = Promise.resolve();

  constructor(db: ControlDb, store: KeyringStore, keyring: Keyring) {
    this.#db = db;
    this.#store = store;
    this.#keyring = keyring;
  }

  get activeKeyId(): string {
    return this.#keyring.active.id;
  }

  async put(tx: Queryable, name: string, value: string): Promise<void> {
    if (!tx.isTransaction) return this.#db.transaction().execute((own) => this.put(own, name, value));
    await sql`select pg_advisory_xact_lock_shared(${sealLockKey})`.execute(tx);
    const sealed = seal(this.#keyring.active, name, value);
    await tx
      .insertInto('secrets')
      .values({ name, key_id: sealed.keyId, wrapped_key: sealed.wrappedKey, ciphertext: sealed.ciphertext })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({
          key_id: sealed.keyId,
          wrapped_key: sealed.wrappedKey,
          ciphertext: sealed.ciphertext,
          rotated_at: new Date(),
        }),
      )
      .execute();
  }

  async get(name: string, tx: Queryable = this.#db): Promise<string> {
    const row = await tx
      .selectFrom('secrets')
      .select(['key_id', 'wrapped_key', 'ciphertext'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`secret ${name} does not exist`);
    const master = this.#keyring.keys.get(row.key_id);
    if (!master) {
      throw new InternalError(
        `secret ${name} is wrapped by master key ${row.key_id}, which is not in the keyring; restore that key into master.key`,
      );
    }
    return open(master, name, { keyId: row.key_id, wrappedKey: row.wrapped_key, ciphertext: row.ciphertext });
  }

  async remove(tx: Queryable, name: string): Promise<void> {
    await tx.deleteFrom('secrets').where('name', '=', name).execute();
  }

  /**
   * Rotates the master key without downtime. The new key is written to the
   * keyring beside the old one and becomes active for new secrets, then every
   * older data key is re-wrapped in batches, then the old key is dropped. A crash at any
   * point leaves every secret readable; running rotation again finishes it.
   */
  rotateMasterKey(): Promise<RotationReport> {
    // One rotation at a time: interleaved ones would each drop the other's key.
    const run = this.#rotation.then(() => this.#rotate());
    this.#rotation = run.catch(() => undefined);
    return run;
  }

  async #rotate(): Promise<RotationReport> {
    const previous = this.#keyring.active;
    const next = newMasterKey(newKeyId());
    const staged: Keyring = { active: next, keys: new Map([...this.#keyring.keys, [next.id, next]]) };
    await this.#store.save(staged);
    this.#keyring = staged;
    // Writers that sealed with the previous key commit before re-wrapping starts, so none is missed.
    await this.#db
      .transaction()
      .execute((tx) => sql`select pg_advisory_xact_lock(${sealLockKey})`.execute(tx));
    let rewrapped = 0;
    for (;;) {
      const batch = await this.#db.transaction().execute(async (tx) => {
        const rows = await tx
          .selectFrom('secrets')
          .select(['id', 'key_id', 'wrapped_key'])
          .where('key_id', '<>', next.id)
          .limit(200)
          // Waits for rows other transactions hold: skipping them would strand them on a dropped key.
          .forUpdate()
          .execute();
        for (const row of rows) {
          const from = staged.keys.get(row.key_id);
          if (!from)
            throw new InternalError(`secret ${row.id} is wrapped by unknown master key ${row.key_id}`);
          await tx
            .updateTable('secrets')
            .set({
              key_id: next.id,
              wrapped_key: rewrap(from, next, row.wrapped_key),
              rotated_at: new Date(),
            })
            .where('id', '=', row.id)
            .execute();
        }
        return rows.length;
      });
      rewrapped += batch;
      if (batch === 0) break;
    }
    const finished: Keyring = { active: next, keys: new Map([[next.id, next]]) };
    await this.#store.save(finished);
    this.#keyring = finished;
    return { previousKeyId: previous.id, keyId: next.id, rewrapped };
  }
}
