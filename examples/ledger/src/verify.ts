/**
 * Checks that a stage's database holds an intact ledger: every migration this
 * release carries is recorded with the same checksum, and every table reads.
 * Prints per-table row counts and checksums as one JSON object on stdout, so a
 * restore test can compare a restored copy with its source. Exit 0: intact.
 */
import pg from 'pg';
import { ConfigError, parseConfig } from './config.ts';
import { errorFields } from './log.ts';
import { ledgerTables, readMigrations } from './migrations.ts';

interface TableReport {
  readonly rows: number;
  /** md5 over the rows in id order, as text: equal data gives equal checksums. */
  readonly checksum: string;
}

async function main(): Promise<number> {
  const config = parseConfig(process.env);
  const files = await readMigrations();
  const client = new pg.Client({ connectionString: config.databaseUrl, application_name: 'ledger-verify' });
  client.on('error', () => undefined);
  const problems: string[] = [];
  const tables: Record<string, TableReport> = {};
  let migrations: { name: string; checksum: string }[] = [];
  try {
    await client.connect();
    // One snapshot for all tables, so the counts belong together.
    await client.query('begin isolation level repeatable read read only');
    try {
      migrations = (
        await client.query<{ name: string; checksum: string }>(
          'select name, checksum from ledger_migrations order by name',
        )
      ).rows;
    } catch (error) {
      problems.push(`ledger_migrations cannot be read: ${String(errorFields(error)['error'])}`);
      await client.query('rollback');
      await client.query('begin isolation level repeatable read read only');
    }
    const applied = new Map(migrations.map((m) => [m.name, m.checksum]));
    for (const file of files) {
      const checksum = applied.get(file.name);
      if (checksum === undefined) problems.push(`migration ${file.name} is not applied`);
      else if (checksum !== file.checksum)
        problems.push(`migration ${file.name} was applied with other content`);
    }
    for (const table of [...ledgerTables, 'ledger_migrations']) {
      const order = table === 'ledger_migrations' ? 'name' : 'id';
      await client.query('savepoint t');
      try {
        const { rows } = await client.query<{ rows: string; checksum: string }>(
          `select count(*)::text as rows,
                  md5(coalesce(string_agg(t::text, E'\\n' order by t.${order}), '')) as checksum
           from ${table} t`,
        );
        const row = rows[0]!;
        tables[table] = { rows: Number(row.rows), checksum: row.checksum };
        await client.query('release savepoint t');
      } catch (error) {
        await client.query('rollback to savepoint t');
        problems.push(`table ${table} cannot be read: ${String(errorFields(error)['error'])}`);
      }
    }
    await client.query('commit');
  } catch (error) {
    problems.push(`verification failed: ${String(errorFields(error)['error'])}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const ok = problems.length === 0;
  process.stdout.write(
    JSON.stringify({
      ok,
      tenant: config.tenant,
      stage: config.stage,
      release: config.release,
      migrations: migrations.length,
      tables,
      problems,
    }) + '\n',
  );
  return ok ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  const message = error instanceof ConfigError ? error.message : String(errorFields(error)['error']);
  process.stderr.write(`ledger verify: ${message}\n`);
  process.exitCode = 1;
}
