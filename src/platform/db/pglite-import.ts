import { existsSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type pg from 'pg';
import { type Database, MIGRATIONS_FOLDER } from './index.ts';

/** What is carried over: the application's tables and pg-boss's queues and jobs (emails still to send). */
const SCHEMAS = ['public', 'pgboss'];
/** Rows per round trip: a few megabytes of JSON. */
const BATCH = 2000;

export interface ImportReport {
  tables: Array<{ table: string; rows: number }>;
}

/** The import cannot go ahead: nothing was written. */
export class ImportRefusedError extends Error {}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Copies a PGlite data directory (the embedded database before embedded PostgreSQL) into `db`,
 * which must be migrated and hold no company yet. The PGlite database is first migrated to this
 * code's migrations, so both have the same tables; then every table of the application and of
 * pg-boss is copied row by row as JSON (types round-trip through their text forms), with triggers
 * and foreign keys off for the copy (session_replication_role = replica), and every sequence set to
 * where it was. One transaction: a copy that fails leaves the target as it was.
 */
export async function importPglite(db: Database, pgliteDir: string): Promise<ImportReport> {
  if (!existsSync(pgliteDir)) throw new ImportRefusedError(`no PGlite data directory at ${pgliteDir}`);
  const source = await PGlite.create({ dataDir: pgliteDir });
  const target = await db.client.connect();
  try {
    await migrate(drizzle(source), { migrationsFolder: MIGRATIONS_FOLDER });
    const { rows: companies } = await target.query<{ n: number }>('select count(*)::int as n from companies');
    if ((companies[0]?.n ?? 0) > 0) {
      throw new ImportRefusedError('the target database already has companies: import into a new, empty DATA_DIR');
    }
    await target.query('begin');
    await target.query('set local session_replication_role = replica');
    const tables: ImportReport['tables'] = [];
    // Partitions are written through their parent; pg-boss's queues come first (see copyTable).
    const { rows: names } = await source.query<{ schema: string; table: string }>(
      `select n.nspname as schema, c.relname as "table" from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any($1) and c.relkind in ('r', 'p') and not c.relispartition
         and (n.nspname, c.relname) <> ('pgboss', 'version')
       order by n.nspname, c.relname <> 'queue', c.relname`,
      [SCHEMAS],
    );
    for (const { schema, table } of names) {
      tables.push({ table: `${schema}.${table}`, rows: await copyTable(source, target, schema, table) });
    }
    await copySequences(source, target);
    await target.query('commit');
    return { tables };
  } catch (error) {
    await target.query('rollback').catch(() => {});
    throw error;
  } finally {
    target.release();
    await source.close();
  }
}

async function copyTable(source: PGlite, target: pg.PoolClient, schema: string, table: string): Promise<number> {
  const qualified = `${quote(schema)}.${quote(table)}`;
  // Generated columns are computed again by the target; only stored ones can be written.
  const { rows: columns } = await target.query<{ name: string }>(
    `select column_name as name from information_schema.columns
     where table_schema = $1 and table_name = $2 and is_generated = 'NEVER' order by ordinal_position`,
    [schema, table],
  );
  if (columns.length === 0) return 0;
  const list = columns.map((c) => quote(c.name)).join(', ');
  // pg-boss's partitioned job table routes rows to per-queue partitions, which the copied queues
  // do not create: its own function makes each queue, with its partition, before the jobs come.
  if (schema === 'pgboss' && table === 'queue') {
    const { rows } = await source.query<{ name: string; options: unknown }>(
      `select name, json_build_object('policy', policy, 'retryLimit', retry_limit, 'retryDelay', retry_delay,
         'retryBackoff', retry_backoff, 'expireInSeconds', expire_seconds, 'retentionMinutes', retention_minutes,
         'deadLetter', dead_letter) as options from pgboss.queue order by name`,
    );
    for (const row of rows) {
      await target.query(
        'select pgboss.create_queue($1, $2) where not exists (select 1 from pgboss.queue where name = $1)',
        [row.name, JSON.stringify(row.options)],
      );
    }
    return rows.length;
  }
  let copied = 0;
  await source.transaction(async (tx) => {
    await tx.query(
      `declare rows_out no scroll cursor for select row_to_json(r)::text as row from (select ${list} from ${qualified}) r`,
    );
    for (;;) {
      const { rows } = await tx.query<{ row: string }>(`fetch ${BATCH} from rows_out`);
      if (rows.length === 0) break;
      await target.query(
        `insert into ${qualified} (${list}) overriding system value
         select ${list} from json_populate_recordset(null::${qualified}, $1)`,
        [`[${rows.map((r) => r.row).join(',')}]`],
      );
      copied += rows.length;
    }
    await tx.query('close rows_out');
  });
  return copied;
}

async function copySequences(source: PGlite, target: pg.PoolClient): Promise<void> {
  const { rows } = await source.query<{ schema: string; name: string; last: string | null }>(
    `select schemaname as schema, sequencename as name, last_value::text as last from pg_sequences
     where schemaname = any($1)`,
    [SCHEMAS],
  );
  for (const { schema, name, last } of rows) {
    if (last === null) continue;
    await target.query('select setval($1, $2)', [`${quote(schema)}.${quote(name)}`, last]);
  }
}
