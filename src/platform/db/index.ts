import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type ExtractTablesWithRelations, type SQL, sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg, type NodePgDatabase, NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { lockDataDir } from './lock.ts';
import * as schema from './schema.ts';

export { schema };

export type Schema = typeof schema;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/** Any advisory-lock key will do as long as every process of the product uses the same one. */
const MIGRATION_LOCK_KEY = 7_246_813;

export interface Database {
  readonly driver: 'pglite' | 'postgres';
  /**
   * Runs fn in one transaction as the role that row-level security confines to this company.
   * Every request made on behalf of a user goes through here.
   */
  tenant<T>(companyId: number, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Runs fn in one transaction that sees every company: only for what must work before a company
   * is known (login, registration, accepting an invitation) or across companies (jobs, the CLI).
   */
  unsafeSystem<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Applies pending migrations; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** How many migrations this code has that the database has not applied yet. */
  pendingMigrations(): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The driver's own client, for libraries that need one (pg-boss). */
  readonly client: PGlite | pg.Pool;
}

/** Runs fn in a transaction that first runs `setup`: parameterless SQL that sets role and company. */
type Transact = <T>(setup: string, fn: (tx: Tx) => Promise<T>) => Promise<T>;

function scoped(
  transact: Transact,
  kind: Database['driver'],
  client: PGlite | pg.Pool,
  extra: {
    migrate(): Promise<void>;
    ping(): Promise<void>;
    close(): Promise<void>;
  },
): Database {
  return {
    driver: kind,
    client,
    async pendingMigrations() {
      // Drizzle's own rule: a migration is pending when it is newer than the newest one applied.
      let newest = 0;
      try {
        const { rows } = await (
          client as { query(text: string): Promise<{ rows: Array<{ created_at: string }> }> }
        ).query('select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1');
        newest = Number(rows[0]?.created_at ?? 0);
      } catch (error) {
        // A database no migration has touched yet has no bookkeeping table: everything is pending.
        const code = (error as { code?: string }).code;
        if (code !== '42P01' && code !== '3F000') throw error;
      }
      return readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).filter((m) => m.folderMillis > newest).length;
    },
    tenant(companyId, fn) {
      // Checked here because it is written into the SQL text (so the setup can share BEGIN's round trip).
      if (!Number.isSafeInteger(companyId) || companyId <= 0) throw new Error(`invalid company id ${companyId}`);
      return transact(
        `select set_config('role', 'tasks_app', true), set_config('app.company_id', '${companyId}', true)`,
        fn,
      );
    },
    unsafeSystem(fn) {
      return transact(`select set_config('role', 'tasks_system', true)`, fn);
    },
    ...extra,
  };
}

/**
 * Drizzle's transaction costs four round trips for a one-query request (BEGIN, the setup, the
 * query, COMMIT). Sending BEGIN and the setup as one simple-protocol message saves one of them;
 * the transaction object is drizzle's own, bound to the checked-out client.
 */
function pgTransact(pool: pg.Pool, db: NodePgDatabase<Schema>): Transact {
  const { dialect, schema: relations, options } = (db as unknown as { session: SessionParts }).session;
  return async (setup, fn) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(`begin; ${setup}`);
      const session = new NodePgSession(preparedStatements(client), dialect, relations, options);
      const result = await fn(new NodePgTransaction(dialect, session, relations) as unknown as Tx);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => {
        // A connection that cannot even roll back is not given to anyone else.
        broken = rollbackError;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  };
}

/**
 * Every parameterized statement becomes a named prepared statement, named by its text: each pooled
 * connection parses and plans a query once, then only binds and executes it (measured here: about
 * 1.4× the transactions a second of unnamed statements). The set of texts is bounded by the code's
 * query shapes, so the statements a connection keeps are too.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `q${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

function preparedStatements(client: pg.PoolClient): pg.PoolClient {
  const query = (config: string | pg.QueryConfig, values?: unknown[]) => {
    const text = typeof config === 'string' ? config : config.text;
    const params = values ?? (typeof config === 'string' ? undefined : config.values);
    if (params === undefined || params.length === 0) return client.query(config as pg.QueryConfig, values);
    const named = typeof config === 'string' ? { text } : { ...config };
    named.name ??= statementName(text);
    return client.query(named, params);
  };
  return new Proxy(client, { get: (target, key) => (key === 'query' ? query : Reflect.get(target, key)) });
}

type SessionParts = {
  dialect: ConstructorParameters<typeof NodePgSession>[1];
  schema: ConstructorParameters<typeof NodePgSession>[2];
  options: ConstructorParameters<typeof NodePgSession>[3];
};

export interface PostgresOptions {
  url: string;
  poolSize?: number;
  onError?: (error: Error) => void;
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
  // An idle client losing its connection (a database restart) must not crash the process.
  pool.on('error', (error) => options.onError?.(error));
  const db = drizzlePg(pool, { schema });
  return scoped(pgTransact(pool, db), 'postgres', pool, {
    async migrate() {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        try {
          await migratePg(drizzlePg(client), { migrationsFolder: MIGRATIONS_FOLDER });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
        }
      } finally {
        client.release();
      }
    },
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      await pool.end();
    },
  });
}

export interface PgliteOptions {
  /** A data directory; omitted, the database lives in memory (tests). */
  dataDir?: string;
  /** A snapshot from PGlite's dumpDataDir() to start from (tests). */
  loadDataDir?: Blob;
}

export async function openPglite(options: PgliteOptions = {}): Promise<Database> {
  let release = () => {};
  let dataDir: string | undefined;
  if (options.dataDir !== undefined) {
    release = lockDataDir(options.dataDir);
    dataDir = path.join(options.dataDir, 'pgdata');
    mkdirSync(dataDir, { recursive: true });
  }
  let client: PGlite;
  try {
    client = await PGlite.create({ dataDir, loadDataDir: options.loadDataDir });
  } catch (error) {
    release();
    throw error;
  }
  const db = drizzlePglite(client, { schema });
  // In-process: no round trips to save, so drizzle's own transaction does.
  const transact: Transact = (setup, fn) =>
    db.transaction(async (tx) => {
      await tx.execute(sql.raw(setup));
      return fn(tx as unknown as Tx);
    });
  return scoped(transact, 'pglite', client, {
    async migrate() {
      await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });
    },
    async ping() {
      await client.query('select 1');
    },
    async close() {
      try {
        await client.close();
      } finally {
        release();
      }
    },
  });
}

export function openDatabase(
  config: { databaseUrl: string | undefined; dataDir: string },
  onError?: (error: Error) => void,
) {
  return config.databaseUrl !== undefined
    ? Promise.resolve(openPostgres({ url: config.databaseUrl, onError }))
    : openPglite({ dataDir: config.dataDir });
}

/** Raw SQL through either driver: both answer with `{ rows }`. */
export async function queryRows<T>(tx: Tx, query: SQL): Promise<T[]> {
  return ((await tx.execute(query)) as unknown as { rows: T[] }).rows;
}
