import { sql } from 'kysely';
import { systemClock, type Clock } from '../core/clock.ts';
import { ConflictError, InternalError, NotFoundError } from '../core/errors.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { newMasterKey, open, rewrap, seal, type MasterKey } from './envelope.ts';
import {
  finishedRotation,
  keyOf,
  newKeyId,
  stagedRotation,
  withoutRetired,
  type Keyring,
  type KeyringStore,
} from './keyring.ts';
import { purgePlan, type RetiredKeyView } from './retired.ts';

/**
 * Writers hold it shared while they seal with the active key; rotation takes it
 * exclusively once, after staging the new key, to wait out writers that may
 * still be sealing with the old one.
 */
const sealLockKey = 0x5737_5ec7;

/** Every Steward process of an install LISTENs here and reloads its keyring; the payload is the active key's id. */
export const keyringChannel = 'steward_keyring';

export interface RotationReport {
  readonly previousKeyId: string;
  readonly keyId: string;
  readonly rewrapped: number;
}

export interface PurgeReport {
  readonly purged: readonly RetiredKeyView[];
  /** Retired keys still inside the backup retention: kept. */
  readonly kept: readonly RetiredKeyView[];
  readonly retentionDays: number;
}

export interface SecretServiceOptions {
  readonly clock?: Clock;
  /** The longest backup retention in days: retired keys are kept at least this long. */
  readonly backupRetentionDays?: () => Promise<number>;
}

/**
 * Secrets at rest: stored sealed in the control database, opened only in
 * memory, never logged. Callers pass a transaction to keep a secret with the
 * desired state that needs it.
 */
export class SecretService {
  readonly #db: ControlDb;
  readonly #store: KeyringStore;
  readonly #options: SecretServiceOptions;
  #keyring: Keyring;
  /** Rotation, purge and reload, one at a time: each replaces the keyring. */
  #keyringChange: Promise<unknown> = Promise.resolve();

  constructor(db: ControlDb, store: KeyringStore, keyring: Keyring, options: SecretServiceOptions = {}) {
    this.#db = db;
    this.#store = store;
    this.#keyring = keyring;
    this.#options = options;
  }

  get activeKeyId(): string {
    return this.#keyring.active.id;
  }

  /** Whether this process can unwrap data keys wrapped by the master key `id` (active, in rotation or retired). */
  hasKey(id: string): boolean {
    return keyOf(this.#keyring, id) !== undefined;
  }

  /** The retired keys this process holds, oldest first, with when each may be purged. */
  async retiredKeys(): Promise<{ readonly keys: readonly RetiredKeyView[]; readonly retentionDays: number }> {
    await this.reload();
    const retentionDays = await this.#retentionDays();
    const plan = purgePlan(this.#keyring.retired, retentionDays, new Date(0));
    return { keys: plan.keep, retentionDays };
  }

  /**
   * Reads the keyring again: another process rotated the master key or purged
   * a retired one (keyringChannel), or a secret names a key this process does
   * not know yet.
   */
  reload(): Promise<void> {
    return this.#serialised(async () => {
      this.#keyring = await this.#store.load();
    });
  }

  /**
   * The master keys, for the keys the audit log derives from them (its MAC
   * and checkpoint-signing keys): the active one, and any one still kept by id (retired ones too).
   */
  masterKeys(): { readonly active: MasterKey; byId(id: string): MasterKey | undefined } {
    const keyring = (): Keyring => this.#keyring;
    return {
      get active() {
        return keyring().active;
      },
      byId: (id) => keyOf(keyring(), id),
    };
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
    // A key this process does not know yet was most likely made by a rotation in another process.
    if (!keyOf(this.#keyring, row.key_id)) await this.reload();
    const master = keyOf(this.#keyring, row.key_id);
    if (!master) {
      throw new InternalError(
        `secret ${name} is wrapped by master key ${row.key_id}, which is in neither the keyring's active nor its retired keys (purged, or a keyring from another install): restore master.key from a copy that has ${row.key_id}`,
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
   * older data key is re-wrapped in batches, then the old key retires (kept,
   * sealed under the new one, for backups of the control database taken
   * before). Every other process of the install reloads the keyring on the
   * notification each step sends. A crash at any point leaves every secret
   * readable; running rotation again finishes it.
   */
  rotateMasterKey(): Promise<RotationReport> {
    // One rotation at a time: interleaved ones would each retire the other's key.
    return this.#serialised(() => this.#rotate());
  }

  #serialised<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#keyringChange.then(change);
    this.#keyringChange = run.catch(() => undefined);
    return run;
  }

  /** Writes the keyring and tells every other process of the install to read it again. */
  async #save(keyring: Keyring): Promise<void> {
    await this.#store.save(keyring);
    this.#keyring = keyring;
    await sql`select pg_notify(${keyringChannel}, ${keyring.active.id})`.execute(this.#db);
  }

  async #rotate(): Promise<RotationReport> {
    // The file is the truth: another process may have rotated since this one last read it.
    this.#keyring = await this.#store.load();
    const previous = this.#keyring.active;
    const next = newMasterKey(newKeyId());
    const staged = stagedRotation(this.#keyring, next);
    await this.#save(staged);
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
          // Waits for rows other transactions hold: skipping them would strand them on a retired key.
          .forUpdate()
          .execute();
        for (const row of rows) {
          // Retired keys too: a restored control database may still have data keys they wrap.
          const from = keyOf(staged, row.key_id);
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
    await this.#save(finishedRotation(staged, this.#now()));
    return { previousKeyId: previous.id, keyId: next.id, rewrapped };
  }

  /**
   * Drops the retired master keys whose retirement is older than the longest
   * backup retention: no backup of the control database that needs them can
   * be restored any more. Refuses while none is that old, naming each key and
   * the date it may go, and while a secret in the control database still
   * uses one (a restored database: rotating again re-wraps it).
   */
  purgeRetiredKeys(): Promise<PurgeReport> {
    return this.#serialised(async () => {
      this.#keyring = await this.#store.load();
      const retentionDays = await this.#retentionDays();
      const plan = purgePlan(this.#keyring.retired, retentionDays, this.#now());
      if (plan.purge.length === 0 && plan.keep.length > 0) {
        throw new ConflictError(
          `no retired master key is older than the longest backup retention (${retentionDays} days), so a restored backup may still need each: ${plan.keep
            .map(
              (k) =>
                `${k.id} (retired ${k.retiredAt.toISOString()}) may be purged from ${k.purgeableAt.toISOString()}`,
            )
            .join('; ')}`,
          { field: 'retiredKeys' },
        );
      }
      if (plan.purge.length === 0) return { purged: [], kept: [], retentionDays };
      const inUse = await this.#db
        .selectFrom('secrets')
        .select(['key_id', (eb) => eb.fn.countAll<string>().as('count')])
        .where(
          'key_id',
          'in',
          plan.purge.map((k) => k.id),
        )
        .groupBy('key_id')
        .execute();
      if (inUse.length > 0) {
        throw new ConflictError(
          `${inUse.map((r) => `retired master key ${r.key_id} still wraps ${r.count} secrets`).join('; ')} in the control database (restored from a backup?): run "steward secrets rotate-master-key" to re-wrap them, then purge`,
          { field: 'retiredKeys' },
        );
      }
      await this.#save(
        withoutRetired(
          this.#keyring,
          plan.purge.map((k) => k.id),
        ),
      );
      return { purged: plan.purge, kept: plan.keep, retentionDays };
    });
  }

  #now(): Date {
    return (this.#options.clock ?? systemClock).now();
  }

  async #retentionDays(): Promise<number> {
    const days = await this.#options.backupRetentionDays?.();
    if (days === undefined) {
      throw new InternalError('the backup retention is unknown, so no retired master key can be purged');
    }
    return days;
  }
}
