import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import PgBoss from 'pg-boss';
import type { Database, Tx } from './db/index.ts';

/** pg-boss creates and migrates this schema itself; it is not one of our tenant tables. */
export const JOBS_SCHEMA = 'pgboss';

/** Concurrent GRANTs on one object fail ("tuple concurrently updated"), so starting processes take turns. */
const GRANTS_LOCK_KEY = 7_246_814;
const START_LOCK_KEY = 7_246_815;

/**
 * The application roles enqueue jobs inside their own transactions, so they need to insert into the
 * job table and read the queue settings that the insert joins. SELECT on the job table is limited
 * to the id the insert returns: a tenant transaction must not read other companies' job payloads.
 * pg-boss's ids are generated uuids, so there is no sequence to grant. Partitions (one per queue) are
 * reached through the parent table, whose grants are the ones checked.
 */
const GRANTS = `
  BEGIN;
  SELECT pg_advisory_xact_lock(${GRANTS_LOCK_KEY});
  GRANT USAGE ON SCHEMA ${JOBS_SCHEMA} TO tasks_app, tasks_system;
  GRANT SELECT ON ${JOBS_SCHEMA}.queue TO tasks_app, tasks_system;
  GRANT INSERT, SELECT (id) ON ${JOBS_SCHEMA}.job TO tasks_app, tasks_system;
  COMMIT;
`;

export type QueuePolicy = 'standard' | 'short' | 'singleton' | 'stately';

export interface QueueOptions {
  /** pg-boss's policies: 'short' keeps one waiting job per singletonKey, 'singleton' one running, 'stately' both. */
  policy?: QueuePolicy;
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** Exponential backoff: the n-th retry waits retryDelaySeconds × 2^(n-1) to twice that. */
  retryBackoff?: boolean;
  /** A job running longer is failed (and retried) by maintenance: it is presumed lost with its worker. */
  expireInSeconds?: number;
}

export interface SendOptions {
  startAfterSeconds?: number;
  /** With a queue policy other than 'standard', at most one job per key in the state the policy guards. */
  singletonKey?: string;
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
}

export interface Job<T> {
  id: string;
  queue: string;
  data: T;
  /** 0 on the first attempt. */
  retryCount: number;
}

export type JobHandler<T> = (job: Job<T>) => Promise<void>;

export interface WorkOptions {
  /** Jobs fetched at once; they run one after another, each completed or failed on its own, and stop() waits for all. */
  batchSize?: number;
  /** How long an idle worker waits before looking again: delayed jobs start up to this late. */
  pollingIntervalSeconds?: number;
}

/** What Jobs logs through: a pino or Fastify logger. */
export interface JobsLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface JobsOptions {
  logger: JobsLogger;
  /**
   * Worker roles: run pg-boss's maintenance (expiring lost jobs, archiving) and its cron clock.
   * A process that only sends jobs leaves both to the workers.
   */
  processing: boolean;
  pollingIntervalSeconds?: number;
  /** How often schedules are checked and turned into jobs (pg-boss's defaults: 30 s and 5 s). */
  cronMonitorIntervalSeconds?: number;
  cronWorkerIntervalSeconds?: number;
}

/** pg-boss checks options by key ('retryDelay' in options), so a key left undefined fails its checks. */
const defined = <T extends object>(options: T): T =>
  Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as T;

type Connection = PgBoss.Db & { drain(): Promise<void> };

/**
 * pg-boss's own statements on the application's connection. Parameterless text may hold several
 * statements, some in pg-boss's own BEGIN…COMMIT, which only the simple protocol accepts; when such a
 * script fails midway its session is left in an aborted transaction, which must not reach anyone else.
 * Statements in flight are counted so that stop() can wait for the ones pg-boss does not await.
 */
function connectionFor(db: Database): Connection {
  let execute: PgBoss.Db['executeSql'];
  if (db.driver === 'pglite') {
    const pglite = db.client as PGlite;
    execute = async (text, values) => {
      if (values !== undefined && values.length > 0) return pglite.query(text, values);
      // Inside transaction() a failure is rolled back before the one session serves the application again.
      // pg-boss never holds a transaction across calls, so it cannot wait on the application while holding it.
      return pglite.transaction(async (tx) => (await tx.exec(text)).at(-1) ?? { rows: [] });
    };
  } else {
    const pool = db.client as pg.Pool;
    execute = async (text, values) => {
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
  }
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

/** Runs pg-boss's insert on the caller's transaction, through either driver's session. */
function inTransaction(tx: Tx): PgBoss.Db {
  return {
    executeSql: (text, values) =>
      tx._.session.prepareQuery({ sql: text, params: values ?? [] }, undefined, undefined, false).execute() as Promise<{
        rows: unknown[];
      }>,
  };
}

/** Our interface over pg-boss: jobs enqueued in the application's transactions, worked and scheduled here. */
export class Jobs {
  readonly #boss: PgBoss;
  readonly #connection: Connection;
  readonly #db: Database;
  readonly #logger: JobsLogger;
  readonly #pollingIntervalSeconds: number;
  readonly #queues = new Set<string>();
  readonly #workers: Promise<void>[] = [];
  readonly #wakers = new Set<() => void>();
  #stopping = false;

  constructor(db: Database, options: JobsOptions) {
    this.#db = db;
    this.#logger = options.logger;
    this.#pollingIntervalSeconds = options.pollingIntervalSeconds ?? 1;
    this.#connection = connectionFor(db);
    this.#boss = new PgBoss(
      defined({
        db: this.#connection,
        schema: JOBS_SCHEMA,
        supervise: options.processing,
        schedule: options.processing,
        cronMonitorIntervalSeconds: options.cronMonitorIntervalSeconds,
        cronWorkerIntervalSeconds: options.cronWorkerIntervalSeconds,
      }),
    );
    // An EventEmitter without an error listener would throw, and these errors are transient (a poll failed).
    this.#boss.on('error', (error) => this.#logger.error({ err: error }, 'job queue error'));
  }

  /** Creates or migrates pg-boss's schema and grants the application roles what send() needs. Run after migrations. */
  async start(): Promise<void> {
    await this.#oneProcessAtATime(async () => {
      await this.#boss.start();
      await this.#connection.executeSql(GRANTS, []);
    });
  }

  /**
   * Processes starting together on one PostgreSQL would race to create pg-boss's schema, and
   * CREATE SCHEMA IF NOT EXISTS still fails for the loser; a session lock makes them take turns.
   * PGlite is one process by construction.
   */
  async #oneProcessAtATime(fn: () => Promise<void>): Promise<void> {
    if (this.#db.driver !== 'postgres') return fn();
    const client = await (this.#db.client as pg.Pool).connect();
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

  /**
   * Every queue is created here, at start, before send(), work() or schedule() use it. Idempotent, and
   * the settings (pg-boss's defaults where not given) replace the stored ones, so the code is what counts.
   */
  async createQueue(name: string, options: QueueOptions = {}): Promise<void> {
    const settings = {
      name,
      policy: options.policy ?? 'standard',
      retryLimit: options.retryLimit ?? 2,
      retryDelay: options.retryDelaySeconds ?? 0,
      retryBackoff: options.retryBackoff ?? false,
      expireInSeconds: options.expireInSeconds ?? 15 * 60,
    };
    await this.#boss.createQueue(name, settings);
    await this.#boss.updateQueue(name, settings);
    this.#queues.add(name);
  }

  #requireQueue(queue: string): void {
    // pg-boss's insert joins the queue table, so a job for a queue never created would vanish silently.
    if (!this.#queues.has(queue)) throw new Error(`queue "${queue}" must be created with createQueue() first`);
  }

  /**
   * Enqueues a job in the caller's transaction: it exists if and only if that transaction commits.
   * Returns its id, or null when the queue's policy already holds a job with this singletonKey.
   */
  async send(tx: Tx, queue: string, data: object, options: SendOptions = {}): Promise<string | null> {
    this.#requireQueue(queue);
    return this.#boss.send(
      queue,
      data,
      defined({
        db: inTransaction(tx),
        startAfter: options.startAfterSeconds,
        singletonKey: options.singletonKey,
        retryLimit: options.retryLimit,
        retryDelay: options.retryDelaySeconds,
        retryBackoff: options.retryBackoff,
      }),
    );
  }

  /**
   * Processes the queue's jobs in this process until stop(). A handler that throws fails its job,
   * which is retried as its queue or send() options say. Our own loop rather than pg-boss's work():
   * that one completes jobs without awaiting it, so a stop could close the database under it.
   */
  async work<T>(queue: string, handler: JobHandler<T>, options: WorkOptions = {}): Promise<void> {
    if (this.#stopping) throw new Error('jobs are stopping');
    this.#requireQueue(queue);
    const batchSize = options.batchSize ?? 1;
    const intervalMs = (options.pollingIntervalSeconds ?? this.#pollingIntervalSeconds) * 1000;
    const loop = async () => {
      while (!this.#stopping) {
        let jobs: PgBoss.JobWithMetadata<T>[] = [];
        try {
          jobs = await this.#boss.fetch<T>(queue, { batchSize, includeMetadata: true });
        } catch (error) {
          this.#logger.error({ err: error, queue }, 'could not fetch jobs');
        }
        for (const job of jobs) await this.#run(queue, handler, job);
        if (jobs.length === 0) await this.#sleep(intervalMs);
      }
    };
    this.#workers.push(loop());
  }

  async #run<T>(queue: string, handler: JobHandler<T>, job: PgBoss.JobWithMetadata<T>): Promise<void> {
    try {
      await handler({ id: job.id, queue, data: job.data, retryCount: job.retryCount });
    } catch (error) {
      this.#logger.warn({ err: error, queue, job: job.id, retryCount: job.retryCount }, 'job failed');
      await this.#settle(() =>
        this.#boss.fail(queue, job.id, error instanceof Error ? error : { message: String(error) }),
      );
      return;
    }
    await this.#settle(() => this.#boss.complete(queue, job.id));
  }

  /** A job left active by a failed update expires and is retried, so the worker carries on. */
  async #settle(update: () => Promise<unknown>): Promise<void> {
    try {
      await update();
    } catch (error) {
      this.#logger.error({ err: error }, 'could not record a job outcome');
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  /**
   * A job on `queue` each time the cron expression (UTC) comes due, once across all workers: pg-boss
   * lets one process at a time turn schedules into jobs, and at most one a minute per schedule.
   */
  async schedule(queue: string, cron: string, data: object = {}): Promise<void> {
    this.#requireQueue(queue);
    await this.#boss.schedule(queue, cron, data, { tz: 'UTC' });
  }

  /** Lets running jobs finish, takes no new ones, then waits for pg-boss's last statements. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const wake of this.#wakers) wake();
    await Promise.all(this.#workers);
    await this.#boss.stop({ graceful: true, close: false });
    await this.#connection.drain();
  }
}
