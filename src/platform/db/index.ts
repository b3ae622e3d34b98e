import { fileURLToPath } from 'node:url';
import { type ExtractTablesWithRelations, type SQL, sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg, type NodePgDatabase, NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { DEADLOCK_DETECTED, pgErrorInfo } from './errors.ts';
import * as schema from './schema.ts';
import { deallocateEvicted, preparedStatements } from './statements.ts';

// Defined apart so that src/main.ts starts the embedded server before drizzle and the schema load.
export { openDatabase, openEmbedded } from './open.ts';
export { schema };

export type Schema = typeof schema;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/** Any advisory-lock key will do as long as every process of the product uses the same one. */
const MIGRATION_LOCK_KEY = 7_246_813;

/**
 * Whom a transaction acts for: a company (a job acting for it), or a user of it. With a user,
 * row-level security also hides the rows of the projects that user does not see (drizzle/0016).
 */
export type TenantScope = number | { companyId: number; userId: number };

export interface Database {
  /**
   * Runs fn in one transaction as the role that row-level security confines to this company.
   * Every request made on behalf of a user goes through here.
   */
  tenant<T>(scope: TenantScope, fn: (tx: Tx) => Promise<T>, options?: TransactOptions): Promise<T>;
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
  readonly client: pg.Pool;
}

/** How many times a user's transaction runs when PostgreSQL ends it to break a deadlock. */
const DEADLOCK_ATTEMPTS = 3;

export interface TransactOptions {
  /**
   * Called synchronously the moment COMMIT has been written to the server, before its answer: a
   * message written in the same tick reaches its peer if and only if, short of a failed commit,
   * the transaction does, even if this process is killed right after (the email worker's hand-over).
   */
  onCommitSent?: () => void;
}

/**
 * The SQL that confines a transaction to one company, for tenant() and tenantQuery(). The id is
 * checked because it is written into the text (so the setup can share BEGIN's round trip).
 */
function tenantSetup(scope: TenantScope): string {
  const { companyId, userId } = typeof scope === 'number' ? { companyId: scope, userId: undefined } : scope;
  if (!Number.isSafeInteger(companyId) || companyId <= 0) throw new Error(`invalid company id ${companyId}`);
  if (userId !== undefined && (!Number.isSafeInteger(userId) || userId <= 0))
    throw new Error(`invalid user id ${userId}`);
  const user = userId === undefined ? '' : `, set_config('app.user_id', '${userId}', true)`;
  return `select set_config('role', 'tasks_app', true), set_config('app.company_id', '${companyId}', true)${user}`;
}

/** Runs fn in a transaction that first runs `setup`: parameterless SQL that sets role and company. */
type Transact = <T>(setup: string, fn: (tx: Tx) => Promise<T>, options?: TransactOptions) => Promise<T>;

function scoped(
  transact: Transact,
  client: pg.Pool,
  extra: {
    migrate(): Promise<void>;
    ping(): Promise<void>;
    close(): Promise<void>;
  },
): Database {
  return {
    client,
    async pendingMigrations() {
      // Drizzle's own rule: a migration is pending when it is newer than the newest one applied.
      let newest = 0;
      try {
        const { rows } = await client.query<{ created_at: string }>(
          'select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1',
        );
        newest = Number(rows[0]?.created_at ?? 0);
      } catch (error) {
        // A database no migration has touched yet has no bookkeeping table: everything is pending.
        const code = (error as { code?: string }).code;
        if (code !== '42P01' && code !== '3F000') throw error;
      }
      return readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).filter((m) => m.folderMillis > newest).length;
    },
    async tenant(scope, fn, options) {
      for (let attempt = 1; ; attempt++) {
        let commitSent = false;
        try {
          return await transact(tenantSetup(scope), fn, {
            onCommitSent: () => {
              commitSent = true;
              options?.onCommitSent?.();
            },
          });
        } catch (error) {
          // PostgreSQL broke a deadlock by failing this transaction: nothing of it happened, and
          // run again it most likely finds the other one done. Never once its COMMIT is out.
          if (commitSent || attempt === DEADLOCK_ATTEMPTS || pgErrorInfo(error)?.code !== DEADLOCK_DETECTED) {
            throw error;
          }
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
        }
      }
    },
    unsafeSystem(fn) {
      return transact(`select set_config('role', 'tasks_system', true)`, fn);
    },
    ...extra,
  };
}

/**
 * Drizzle's transaction costs four round trips for a one-query request (BEGIN, the setup, the
 * query, COMMIT). BEGIN and the setup go as one simple-protocol message, and in pipeline mode
 * (node-pg 8.23) the first statement is written behind it without waiting for its answer: two
 * round trips saved. Pipeline mode also lets a transaction write statements whose answers it does
 * not need before the next (a lock, then the read it guards) back to back: the server still runs
 * them in order. Should BEGIN or the setup fail, what follows fails in the aborted transaction, so
 * nothing runs unconfined, and BEGIN's error is the one thrown. The transaction object is
 * drizzle's own, bound to the checked-out client.
 */
function pgTransact(pool: pg.Pool, db: NodePgDatabase<Schema>): Transact {
  const { dialect, schema: relations, options } = (db as unknown as { session: SessionParts }).session;
  return async (setup, fn, transactOptions) => {
    const client = await pool.connect();
    const pipelined = client as unknown as PipelinedClient;
    pipelined.pipeline = true;
    let broken: Error | undefined;
    const began = client.query(beginWith(client, setup)).then(
      () => undefined,
      (error: Error) => error,
    );
    try {
      const session = new NodePgSession(preparedStatements(client), dialect, relations, options);
      const result = await fn(new NodePgTransaction(dialect, session, relations) as unknown as Tx);
      const failedToBegin = await began;
      if (failedToBegin !== undefined) throw failedToBegin;
      // In pipeline mode node-pg writes a query at once, so COMMIT is on the wire here.
      const committing = client.query('commit');
      transactOptions?.onCommitSent?.();
      await committing;
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => {
        // A connection that cannot even roll back is not given to anyone else.
        broken = rollbackError;
      });
      throw (await began) ?? error;
    } finally {
      pipelined.pipeline = false;
      client.release(broken);
    }
  };
}

/**
 * BEGIN first, then the evicted statements' DEALLOCATE and the setup: should any of them fail, the
 * transaction is open and aborted, so the statements written behind it fail rather than run
 * outside it (with the DEALLOCATE first, its failure would skip BEGIN).
 */
function beginWith(client: pg.PoolClient, setup: string): string {
  return `begin; ${deallocateEvicted(client)}${setup}`;
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
  // Nor one that a caller holds, mid-transaction or between statements: the pool listens only to
  // idle clients, and an 'error' nobody hears ends the process. The holder learns of the loss from
  // its next statement, which fails, and the pool discards the dead client when it comes back.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = drizzlePg(pool, { schema });
  return scoped(pgTransact(pool, db), pool, {
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

/** Raw SQL: the driver answers with `{ rows }`. */
export async function queryRows<T>(tx: Tx, query: SQL): Promise<T[]> {
  return ((await tx.execute(query)) as unknown as { rows: T[] }).rows;
}

/**
 * Runs fn in a tenant transaction as if no user were named: row-level security then shows every
 * row of the company (drizzle/0016), for what a user's write must do to rows that user does not
 * see (announcing a task in a private project to those who see it). The user is named again after.
 */
export async function withoutUser<T>(tx: Tx, fn: () => Promise<T>): Promise<T> {
  const [row] = await queryRows<{ user: string | null }>(
    tx,
    sql`select current_setting('app.user_id', true) as user, set_config('app.user_id', '', true)`,
  );
  try {
    return await fn();
  } finally {
    await tx.execute(sql`select set_config('app.user_id', ${row?.user ?? ''}, true)`);
  }
}

/** Ids as one int[] value, for set-based statements over many rows (`unnest(...)`, `= any(...)`). */
export const intArraySql = (ids: number[]): SQL => sql`${sql.param(ids)}::int[]`;

/** timestamptz and its array as PostgreSQL's text, as drizzle receives them (see queryText). */
const TEXT_TIMESTAMPS = new Set([1184, 1185]);
const pgTextTimestamps = {
  getTypeParser: (oid: number, format?: string) =>
    TEXT_TIMESTAMPS.has(oid) ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text'),
};

/**
 * One statement given as SQL text and parameters, run in tx straight through the driver, without
 * drizzle's query building and row mapping: for the hottest paths (the task list), where those
 * cost more CPU than the database spends on the query. On PostgreSQL it is a named prepared
 * statement like every other. Rows come as the driver parses them, except timestamptz, which stays
 * PostgreSQL's text as drizzle gets it, so callers convert it exactly as drizzle does.
 */
export async function queryText<T>(tx: Tx, text: string, params: unknown[]): Promise<T[]> {
  const { client } = (tx as unknown as { session: { client: pg.PoolClient } }).session;
  return (await client.query({ text, values: params, types: pgTextTimestamps })).rows as T[];
}

export interface TenantQueryOptions<T = unknown> {
  /**
   * How PostgreSQL plans the prepared statement in this transaction (plan_cache_mode). By default
   * it plans the first five executions for their values, then keeps a generic plan if that is
   * estimated no dearer. `generic`: always the generic plan, for a statement whose generic
   * estimate looks dear only because LIMIT and OFFSET are parameters (it would otherwise be
   * planned anew on every execution); `custom`: planned for its values every time, for one whose
   * best plan depends on them (a text search).
   */
  plan?: 'generic' | 'custom';
  /**
   * Commit only if the statement's rows say so (rolled back otherwise), decided after its answer:
   * COMMIT then goes in a second write, with `onCommitSent` called in the same tick (see
   * TransactOptions). Without it, COMMIT goes in the first write with everything else.
   */
  commitIf?: (rows: T[]) => boolean;
  onCommitSent?: () => void;
}

/** What a pg client in pipeline mode exposes: the switch, and the socket to write a batch in one go. */
type PipelinedClient = { pipeline: boolean; connection: { stream: { cork(): void; uncork(): void } } };

/**
 * One statement in a transaction of its own, confined as tenant() confines it (the same setup, a
 * copy of tenant()'s; src/tasks/statement.test.ts checks the role and company it runs with). On
 * PostgreSQL, BEGIN with the setup, the statement and COMMIT are written in one go and answered
 * together: one round trip and one socket write instead of three. The server still runs them in
 * order: should the setup fail, the statement fails in the aborted transaction and COMMIT rolls
 * back, so nothing is ever read unconfined, and the answer is the error. A connection whose BEGIN
 * or COMMIT failed is discarded; one whose statement failed is rolled back and clean.
 */
export async function tenantQuery<T>(
  db: Database,
  scope: TenantScope,
  text: string,
  params: unknown[],
  options: TenantQueryOptions<T> = {},
): Promise<T[]> {
  const { commitIf } = options;
  const [rows] = await tenantStatements(db, scope, [{ text, params }], {
    ...options,
    commitIf: commitIf === undefined ? undefined : (answers) => commitIf(answers[0] as T[]),
  });
  return rows as T[];
}

/**
 * tenantQuery for a few statements run in turn in one transaction, all written in the same round
 * trip: for a write whose every step SQL can take from the one before (a later statement reads
 * what an earlier one wrote). Each statement's rows come back, in order; the first that failed is
 * the error, and nothing of the transaction stays.
 */
export async function tenantStatements(
  db: Database,
  scope: TenantScope,
  statements: ReadonlyArray<{ text: string; params: unknown[] }>,
  options: Omit<TenantQueryOptions, 'commitIf'> & { commitIf?: (answers: unknown[][]) => boolean } = {},
): Promise<unknown[][]> {
  const mode = options.plan === undefined ? '' : `, set_config('plan_cache_mode', 'force_${options.plan}_plan', true)`;
  const { commitIf } = options;
  const setup = `${tenantSetup(scope)}${mode}`;
  const client = await db.client.connect();
  // Pipeline mode (node-pg 8.23) writes each query at once instead of after the previous answer.
  const pipelined = client as unknown as PipelinedClient;
  pipelined.pipeline = true;
  const { stream } = pipelined.connection;
  stream.cork();
  let sent: Array<Promise<pg.QueryResult>>;
  try {
    sent = [
      client.query(beginWith(client, setup)),
      ...statements.map(({ text, params }) =>
        preparedStatements(client).query({ text, values: params, types: pgTextTimestamps } as pg.QueryConfig),
      ),
    ];
    if (commitIf === undefined) sent.push(client.query('commit'));
  } finally {
    stream.uncork();
  }
  if (commitIf !== undefined) {
    const answered = await Promise.allSettled(sent.slice(1));
    const commit =
      answered.every((result) => result.status === 'fulfilled') &&
      commitIf(answered.map((result) => (result as PromiseFulfilledResult<pg.QueryResult>).value.rows));
    // Written at once (pipeline mode), so the COMMIT is on the wire when the callback runs.
    sent.push(client.query(commit ? 'commit' : 'rollback'));
    if (commit) options.onCommitSent?.();
  }
  const results = await Promise.allSettled(sent);
  pipelined.pipeline = false;
  const ended = results.at(-1);
  const broken = [results[0], ended].find((result) => result?.status === 'rejected');
  client.release(broken === undefined ? undefined : ((broken as PromiseRejectedResult).reason as Error));
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return results
    .slice(1, 1 + statements.length)
    .map((result) => (result as PromiseFulfilledResult<pg.QueryResult>).value.rows);
}
