import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, open, readFile, rename } from 'node:fs/promises';
import { InputError, showValue } from '../core/errors.ts';
import { openMasterKey, sealMasterKey, type MasterKey } from './envelope.ts';

/**
 * The master keys. `active` wraps new data keys; the others in `keys` are
 * kept only while a rotation is in flight, so that a crash halfway through
 * rotation never leaves a data key that no key on disk can unwrap.
 *
 * `retired` keys were active once. No secret in the control database uses
 * them after a rotation, but a backup of the control database from before it
 * does: they are kept, sealed under the active key, until an operator purges
 * them after the longest backup retention. They live in the keyring, not in
 * the control database, because restoring that database to before a rotation
 * must not take them away.
 */
export interface Keyring {
  readonly active: MasterKey;
  readonly keys: ReadonlyMap<string, MasterKey>;
  readonly retired: ReadonlyMap<string, RetiredKey>;
}

export interface RetiredKey {
  readonly key: MasterKey;
  readonly retiredAt: Date;
}

interface KeyringFile {
  readonly active: string;
  readonly keys: Record<string, string>;
  /** Each sealed under the active key (sealMasterKey). */
  readonly retired?: Record<string, { readonly retiredAt: string; readonly sealed: string }>;
}

/** The key that unwraps data keys wrapped by `id`, retired or not. */
export function keyOf(keyring: Keyring, id: string): MasterKey | undefined {
  return keyring.keys.get(id) ?? keyring.retired.get(id)?.key;
}

/** Rotation, first step: `next` becomes active beside the keys in use, which still unwrap what they wrapped. */
export function stagedRotation(keyring: Keyring, next: MasterKey): Keyring {
  return { active: next, keys: new Map([...keyring.keys, [next.id, next]]), retired: keyring.retired };
}

/** Rotation, last step (every data key is re-wrapped by the active key): the other keys retire. */
export function finishedRotation(keyring: Keyring, now: Date): Keyring {
  const retired = new Map(keyring.retired);
  for (const [id, key] of keyring.keys) {
    if (id !== keyring.active.id && !retired.has(id)) retired.set(id, { key, retiredAt: now });
  }
  return { active: keyring.active, keys: new Map([[keyring.active.id, keyring.active]]), retired };
}

/** The keyring without the retired keys named. */
export function withoutRetired(keyring: Keyring, ids: readonly string[]): Keyring {
  const retired = new Map(keyring.retired);
  for (const id of ids) retired.delete(id);
  return { ...keyring, retired };
}

export interface KeyringStore {
  load(): Promise<Keyring>;
  /** Writes the keyring; fails for a keyring that comes from the environment. */
  save(keyring: Keyring): Promise<void>;
  readonly writable: boolean;
}

export function newKeyId(): string {
  return `k${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

function parseKeyring(text: string, source: string): Keyring {
  let parsed: KeyringFile;
  try {
    parsed = JSON.parse(text) as KeyringFile;
  } catch (error) {
    // A bare base64 key is accepted too (the simplest form of STEWARD_MASTER_KEY).
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length === 32) {
      const master = { id: 'env', key };
      return { active: master, keys: new Map([[master.id, master]]), retired: new Map() };
    }
    throw new InputError(`${source} is neither a Steward keyring (JSON) nor a base64-encoded 32-byte key`, {
      field: source,
      cause: error,
    });
  }
  const keys = new Map<string, MasterKey>();
  for (const [id, value] of Object.entries(parsed.keys ?? {})) {
    const key = Buffer.from(value, 'base64');
    if (key.length !== 32) throw new InputError(`${source}: key ${id} is not 32 bytes`, { field: source });
    keys.set(id, { id, key });
  }
  const active = keys.get(parsed.active);
  if (!active) throw new InputError(`${source}: active key ${parsed.active} is missing`, { field: source });
  const retired = new Map<string, RetiredKey>();
  for (const [id, entry] of Object.entries(parsed.retired ?? {})) {
    const retiredAt = new Date(entry.retiredAt);
    if (Number.isNaN(retiredAt.getTime())) {
      throw new InputError(
        `${source}: retired key ${id} has retiredAt ${showValue(entry.retiredAt)}, not an ISO 8601 time`,
        { field: source },
      );
    }
    let key: MasterKey;
    try {
      key = openMasterKey(active, id, Buffer.from(entry.sealed, 'base64'));
    } catch (error) {
      throw new InputError(`${source}: retired key ${id} does not open with the active key ${active.id}`, {
        field: source,
        cause: error,
      });
    }
    retired.set(id, { key, retiredAt });
  }
  return { active, keys, retired };
}

function serialise(keyring: Keyring): string {
  const keys: Record<string, string> = {};
  for (const [id, master] of keyring.keys) keys[id] = master.key.toString('base64');
  const retired: NonNullable<KeyringFile['retired']> = {};
  for (const [id, entry] of keyring.retired) {
    retired[id] = {
      retiredAt: entry.retiredAt.toISOString(),
      sealed: sealMasterKey(keyring.active, entry.key).toString('base64'),
    };
  }
  const file: KeyringFile = {
    active: keyring.active.id,
    keys,
    ...(keyring.retired.size > 0 ? { retired } : {}),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** `<data-dir>/master.key`, mode 0600, created on first use. */
export function fileKeyring(path: string): KeyringStore {
  return {
    writable: true,
    async load() {
      if (!existsSync(path)) {
        const id = newKeyId();
        const master = { id, key: randomBytes(32) };
        const keyring: Keyring = { active: master, keys: new Map([[id, master]]), retired: new Map() };
        await writeAtomically(path, serialise(keyring));
        return keyring;
      }
      return parseKeyring(await readFile(path, 'utf8'), path);
    },
    async save(keyring) {
      await writeAtomically(path, serialise(keyring));
    },
  };
}

export function environmentKeyring(value: string): KeyringStore {
  return {
    writable: false,
    load: () => Promise.resolve(parseKeyring(value, 'STEWARD_MASTER_KEY')),
    save: () =>
      Promise.reject(
        new InputError(
          'the master key comes from STEWARD_MASTER_KEY, which Steward cannot change (rotate or purge keys): rotate it where it is stored and restart with the new keyring',
          { field: 'STEWARD_MASTER_KEY' },
        ),
      ),
  };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}
