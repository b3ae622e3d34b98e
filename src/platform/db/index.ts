import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type ExtractTablesWithRelations, type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
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
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The driver's own client, for libraries that need one (pg-boss). */
  readonly client: PGlite | pg.Pool;
}

interface Driver {
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

function scoped(
  driver: Driver,
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
    tenant(companyId, fn) {
      if (!Number.isSafeInteger(companyId) || companyId <= 0) throw new Error(`invalid company id ${companyId}`);
      return driver.transaction(async (tx) => {
        await tx.execute(
          sql`select set_config('role', 'tasks_app', true), set_config('app.company_id', ${String(companyId)}, true)`,
        );
        return fn(tx);
      });
    },
    unsafeSystem(fn) {
      return driver.transaction(async (tx) => {
        await tx.execute(sql`select set_config('role', 'tasks_system', true)`);
        return fn(tx);
      });
    },
    ...extra,
  };
}

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
  return scoped(db as unknown as Driver, 'postgres', pool, {
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
  return scoped(db as unknown as Driver, 'pglite', client, {
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
