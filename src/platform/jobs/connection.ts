import type pg from 'pg';
import type PgBoss from 'pg-boss';
import type { Database, Tx } from '../db/index.ts';

/** pg-boss creates and migrates this schema itself; it is not one of our tenant tables. */
export const JOBS_SCHEMA = 'pgboss';

const START_LOCK_KEY = 7_246_815;

export type Connection = PgBoss.Db & { drain(): Promise<void> };

/**
 * pg-boss's own statements on the application's connection. Parameterless text may hold several
 * statements, some in pg-boss's own BEGIN…COMMIT, which only the simple protocol accepts; when such a
 * script fails midway its session is left in an aborted transaction, which must not reach anyone else.
 * Statements in flight are counted so that stop() can wait for the ones pg-boss does not await.
 */
export function connectionFor(db: Database): Connection {
  const pool = db.client as pg.Pool;
  const execute: PgBoss.Db['executeSql'] = async (text, values) => {
    if (values !== undefined && values.length > 0) return pool.query(text, values);
    const client = await pool.connect();
    let result: pg.QueryResult | pg.QueryResult[];
    try {
      result = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
    } catch (error) {
      // Discards the connection rather than returning it to the pool mid-transaction.
      client.release(error as Error);
      throw error;
    }
    client.release();
    return Array.isArray(result) ? (result.at(-1) ?? { rows: [] }) : result;
  };
  const inFlight = new Set<Promise<unknown>>();
  return {
    executeSql(text, values) {
      const running = execute(text, values);
      inFlight.add(running);
      void running.then(
        () => inFlight.delete(running),
        () => inFlight.delete(running),
      );
      return running;
    },
    async drain() {
      while (inFlight.size > 0) {
        await Promise.allSettled([...inFlight]);
        // A statement pg-boss chains onto one that just finished is issued before the next macrotask.
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
}

/** Runs pg-boss's insert on the caller's transaction, through its session. */
export function inTransaction(tx: Tx): PgBoss.Db {
  return {
    executeSql: (text, values) =>
      tx._.session.prepareQuery({ sql: text, params: values ?? [] }, undefined, undefined, false).execute() as Promise<{
        rows: unknown[];
      }>,
  };
}

/**
 * Processes starting together on one PostgreSQL would race to create pg-boss's schema and queues,
 * and CREATE SCHEMA IF NOT EXISTS still fails for the loser; a session lock makes them take turns.
 */
export async function oneProcessAtATime(db: Database, fn: () => Promise<void>): Promise<void> {
  const client = await (db.client as pg.Pool).connect();
  try {
    await client.query('select pg_advisory_lock($1)', [START_LOCK_KEY]);
    try {
      await fn();
    } finally {
      await client.query('select pg_advisory_unlock($1)', [START_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
