/**
 * Applies migrations/*.sql in order, each in its own transaction together with
 * its record in ledger_migrations. Runs under an advisory lock, so two deploys
 * that migrate at once apply each file once. Running it again changes nothing.
 * A file that was applied and has since changed is an error, not a silent skip.
 */
import pg from 'pg';
import { ConfigError, parseConfig } from './config.ts';
import { createLogger, errorFields } from './log.ts';
import { readMigrations } from './migrations.ts';

// Any fixed number works; it only has to be the same for every migrate process.
const lockKey = 7_432_001;

async function main(): Promise<number> {
  const config = parseConfig(process.env);
  const logger = createLogger(
    { process: 'migrate', tenant: config.tenant, stage: config.stage, release: config.release },
    { debug: config.debug },
  );
  const files = await readMigrations();
  const client = new pg.Client({ connectionString: config.databaseUrl, application_name: 'ledger-migrate' });
  client.on('error', (error) => logger.warn('database connection failed', errorFields(error)));
  try {
    await client.connect();
  } catch (error) {
    logger.error('migration failed: cannot connect to the database', errorFields(error));
    return 1;
  }
  let current = '';
  try {
    await client.query(`set lock_timeout = '60s'`);
    await client.query('select pg_advisory_lock($1)', [lockKey]);
    await client.query(`set lock_timeout = 0`);
    await client.query(`
      create table if not exists ledger_migrations (
        name text primary key,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`);
    const applied = new Map(
      (
        await client.query<{ name: string; checksum: string }>('select name, checksum from ledger_migrations')
      ).rows.map((r) => [r.name, r.checksum]),
    );
    const known = new Set(files.map((f) => f.name));
    for (const name of applied.keys())
      if (!known.has(name))
        logger.warn('the database has a migration this release does not know (a newer release ran before)', {
          migration: name,
        });
    let count = 0;
    for (const file of files) {
      current = file.name;
      const checksum = applied.get(file.name);
      if (checksum !== undefined) {
        if (checksum !== file.checksum)
          throw new Error(
            `migration ${file.name} was applied with checksum ${checksum.slice(0, 12)} but the file now has ${file.checksum.slice(0, 12)}; applied migrations must not change, add a new file instead`,
          );
        continue;
      }
      const started = Date.now();
      await client.query('begin');
      try {
        await client.query(file.sql);
        await client.query('insert into ledger_migrations (name, checksum) values ($1, $2)', [
          file.name,
          file.checksum,
        ]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
      count++;
      logger.info('migration applied', { migration: file.name, ms: Date.now() - started });
    }
    current = '';
    logger.info(count === 0 ? 'database is up to date' : 'migrations applied', {
      applied: count,
      total: files.length,
    });
    return 0;
  } catch (error) {
    logger.error(current ? `migration ${current} failed` : 'migration failed', {
      ...errorFields(error),
      ...(current ? { migration: current } : {}),
    });
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  const message = error instanceof ConfigError ? error.message : errorFields(error)['error'];
  process.stderr.write(`ledger migrate: ${String(message)}\n`);
  process.exitCode = 1;
}
