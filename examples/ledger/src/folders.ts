/**
 * Folders of invoices and who may use them: each folder names the app roles
 * and groups that may read it and those that may write it (write includes
 * read). Roles come from the tenant's group-to-role mappings in Steward;
 * groups from its directory (SCIM, LDAP, the IdP). The admin role may do
 * everything and is the one that creates folders. An invoice in no folder is
 * open to everyone.
 */
import type { Pool } from './db.ts';
import { HttpError, inputError } from './http.ts';
import type { Identity } from './identity.ts';

export interface Grant {
  readonly roles: readonly string[];
  readonly groups: readonly string[];
}

export interface Folder {
  readonly id: number;
  readonly name: string;
  readonly read: Grant;
  readonly write: Grant;
  readonly createdBy: string;
  readonly createdAt: string;
}

export const accessLevels = ['none', 'read', 'write'] as const;
export type Access = (typeof accessLevels)[number];

const fold = (name: string): string => name.normalize('NFC').toLowerCase();

function granted(grant: Grant, identity: Identity): boolean {
  if (identity.roles.some((r) => grant.roles.includes(r))) return true;
  const groups = new Set(grant.groups.map(fold));
  return identity.groups.some((g) => groups.has(fold(g)));
}

/** What this user may do in this folder. Anonymous users get nothing. */
export function folderAccess(folder: Folder, identity: Identity, adminRole: string): Access {
  if (!identity.authenticated) return 'none';
  if (identity.roles.includes(adminRole) || granted(folder.write, identity)) return 'write';
  return granted(folder.read, identity) ? 'read' : 'none';
}

const describeGrant = (g: Grant): string =>
  [
    g.roles.length ? `roles ${g.roles.join(', ')}` : '',
    g.groups.length ? `groups ${g.groups.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ') || 'nobody';

/** 403 unless the user may `need` in the folder; the message says who may. */
export function checkAccess(
  folder: Folder,
  identity: Identity,
  adminRole: string,
  need: 'read' | 'write',
): void {
  const access = folderAccess(folder, identity, adminRole);
  if (access === 'write' || access === need) return;
  const who =
    need === 'write'
      ? `writers: ${describeGrant(folder.write)}; or role ${adminRole}`
      : `readers: ${describeGrant(folder.read)}; writers: ${describeGrant(folder.write)}; or role ${adminRole}`;
  throw new HttpError(
    403,
    'forbidden',
    identity.authenticated
      ? `you may not ${need} folder ${JSON.stringify(folder.name)} (${who})`
      : `sign in to ${need} folder ${JSON.stringify(folder.name)}`,
  );
}

const maxEntries = 50;

function nameList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (
    !Array.isArray(value) ||
    value.length > maxEntries ||
    !value.every((v) => typeof v === 'string' && v.trim() !== '' && v.length <= 256)
  )
    throw inputError(field, `expected a list of up to ${maxEntries} names (1 to 256 characters each)`);
  return [...new Set((value as string[]).map((v) => v.trim()))];
}

/** `{ roles?: [...], groups?: [...] }` of a request body. */
export function parseGrant(value: unknown, field: string): Grant {
  if (value === undefined || value === null) return { roles: [], groups: [] };
  if (typeof value !== 'object' || Array.isArray(value))
    throw inputError(field, 'expected an object like {"roles":["finance.read"],"groups":["Finance"]}');
  const { roles, groups, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw inputError(`${field}.${unknown}`, 'is not a field; use roles and groups');
  return { roles: nameList(roles, `${field}.roles`), groups: nameList(groups, `${field}.groups`) };
}

interface FolderRow {
  id: number;
  name: string;
  read_roles: string[];
  read_groups: string[];
  write_roles: string[];
  write_groups: string[];
  created_by: string;
  created_at: Date;
}

const toFolder = (r: FolderRow): Folder => ({
  id: r.id,
  name: r.name,
  read: { roles: r.read_roles, groups: r.read_groups },
  write: { roles: r.write_roles, groups: r.write_groups },
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

export class Folders {
  readonly #pool: Pool;
  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async list(): Promise<Folder[]> {
    const { rows } = await this.#pool.query<FolderRow>(
      'select * from folders order by lower(name) limit 1000',
    );
    return rows.map(toFolder);
  }

  async get(id: number): Promise<Folder | undefined> {
    const { rows } = await this.#pool.query<FolderRow>('select * from folders where id = $1', [id]);
    return rows[0] ? toFolder(rows[0]) : undefined;
  }

  async create(input: { name: string; read: Grant; write: Grant; createdBy: string }): Promise<Folder> {
    const { rows } = await this.#pool.query<FolderRow>(
      `insert into folders (name, read_roles, read_groups, write_roles, write_groups, created_by)
       values ($1, $2, $3, $4, $5, $6)
       on conflict do nothing
       returning *`,
      [
        input.name,
        input.read.roles,
        input.read.groups,
        input.write.roles,
        input.write.groups,
        input.createdBy,
      ],
    );
    if (!rows[0])
      throw new HttpError(409, 'conflict', `a folder named ${JSON.stringify(input.name)} exists`, 'name');
    return toFolder(rows[0]);
  }
}
