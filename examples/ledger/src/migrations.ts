import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export const migrationsDir = new URL('../migrations/', import.meta.url).pathname;

/** The app's migrations, in the order their names sort: 001_..., 002_... */
export async function readMigrations(dir = migrationsDir): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const name of names) {
    const sql = await readFile(join(dir, name), 'utf8');
    files.push({ name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return files;
}

/** The tables the app owns, as verify checks them; each has an id primary key. */
export const ledgerTables = ['customers', 'folders', 'invoices', 'invoice_attachments', 'outbox'] as const;
