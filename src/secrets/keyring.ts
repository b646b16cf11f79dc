import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, open, readFile, rename } from 'node:fs/promises';
import { InputError } from '../core/errors.ts';
import type { MasterKey } from './envelope.ts';

/**
 * The master keys. `active` wraps new data keys; the others are kept only
 * while a rotation is in flight, so that a crash halfway through rotation
 * never leaves a data key that no key on disk can unwrap.
 */
export interface Keyring {
  readonly active: MasterKey;
  readonly keys: ReadonlyMap<string, MasterKey>;
}

interface KeyringFile {
  readonly active: string;
  readonly keys: Record<string, string>;
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
      return { active: master, keys: new Map([[master.id, master]]) };
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
  return { active, keys };
}

function serialise(keyring: Keyring): string {
  const keys: Record<string, string> = {};
  for (const [id, master] of keyring.keys) keys[id] = master.key.toString('base64');
  return `${JSON.stringify({ active: keyring.active.id, keys }, null, 2)}\n`;
}

/** `<data-dir>/master.key`, mode 0600, created on first use. */
export function fileKeyring(path: string): KeyringStore {
  return {
    writable: true,
    async load() {
      if (!existsSync(path)) {
        const id = newKeyId();
        const master = { id, key: randomBytes(32) };
        const keyring = { active: master, keys: new Map([[id, master]]) };
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
          'the master key comes from STEWARD_MASTER_KEY and cannot be rotated by Steward; rotate it where it is stored and restart with the new keyring',
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
