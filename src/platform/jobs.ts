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
  /** Retries allowed: the attempt with retryCount equal to it is the last. */
  retryLimit: number;
}

export type JobHandler<T> = (job: Job<T>) => Promise<unknown>;

export interface WorkOptions {
  /** Jobs fetched at once; each is completed or failed on its own, and stop() waits for all. */
  batchSize?: number;
  /** How many jobs run at the same time (default 1: one after another). */
  concurrency?: number;
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
  /**
   * How often a worker fails the jobs whose worker vanished (they ran past their queue's
   * expireInSeconds), so they are retried; pg-boss's default is 120 s.
   */
  maintenanceIntervalSeconds?: number;
}

export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';

export interface JobSummary {
  id: string;
  queue: string;
  state: JobState;
  retryCount: number;
  retryLimit: number;
  startAfter: Date;
  startedOn: Date | null;
  createdOn: Date;
  data: unknown;
  output: unknown;
}

export interface ScheduleSummary {
  queue: string;
  cron: string;
  timezone: string;
}

export interface QueueStats {
  queue: string;
  /** Jobs of this queue in each state pg-boss still holds (completed ones are archived later). */
  states: Partial<Record<JobState, number>>;
  /** Seconds the oldest job that is due has waited past its start time; 0 when none waits. */
  lagSeconds: number;
}

/** How long a completed job waits for others to be recorded with it. */
const COMPLETION_WAIT_MS = 20;
/** The shortest pause between fetches when jobs are due but another worker holds them. */
const MIN_POLL_MS = 10;

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
        maintenanceIntervalSeconds: options.maintenanceIntervalSeconds,
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
   * Processes starting together on one PostgreSQL would race to create pg-boss's schema and queues,
   * and CREATE SCHEMA IF NOT EXISTS still fails for the loser; a session lock makes them take turns.
   */
  async #oneProcessAtATime(fn: () => Promise<void>): Promise<void> {
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
    // Creating a queue creates its partition table: processes doing it at once can deadlock.
    await this.#oneProcessAtATime(async () => {
      await this.#boss.createQueue(name, settings);
      await this.#boss.updateQueue(name, settings);
    });
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
    const concurrency = options.concurrency ?? 1;
    const intervalMs = (options.pollingIntervalSeconds ?? this.#pollingIntervalSeconds) * 1000;
    // One poller per queue fills a buffer that the lanes take jobs from, so a slow job holds up
    // only its own lane, and idle lanes do not each poll the database.
    const buffer: PgBoss.JobWithMetadata<T>[] = [];
    const idleLanes: Array<() => void> = [];
    const wakeLanes = () => {
      for (const wake of idleLanes.splice(0)) wake();
    };
    let wakePoller = () => {};
    let polling = true;
    const poller = async () => {
      while (!this.#stopping) {
        // Enough fetched for every lane: fetching more would only keep jobs active and waiting.
        if (buffer.length >= concurrency) {
          await this.#sleep(intervalMs, (wake) => {
            wakePoller = wake;
          });
          continue;
        }
        let fetched: PgBoss.JobWithMetadata<T>[] = [];
        try {
          fetched = (await this.#boss.fetch<T>(queue, { batchSize, includeMetadata: true })) ?? [];
        } catch (error) {
          this.#logger.error({ err: error, queue }, 'could not fetch jobs');
        }
        buffer.push(...fetched);
        wakeLanes();
        if (fetched.length < batchSize && !this.#stopping) {
          await this.#sleep(await this.#untilDue(queue, intervalMs, fetched.length > 0));
        }
      }
      polling = false;
      wakeLanes();
    };
    // Completions are recorded a batch at a time: one statement instead of one per job. Until then
    // a job stays active, and a crash has it run again, as a crash mid-job would.
    const done: string[] = [];
    let flushTimer: NodeJS.Timeout | undefined;
    let flushed: Promise<void> = Promise.resolve();
    const flush = () => {
      clearTimeout(flushTimer);
      flushTimer = undefined;
      const ids = done.splice(0);
      if (ids.length > 0) flushed = flushed.then(() => this.#settle(() => this.#boss.complete(queue, ids)));
      return flushed;
    };
    const lane = async () => {
      // Jobs already fetched are active in the queue: a stopping worker runs them rather than strand them.
      for (;;) {
        const job = buffer.shift();
        if (job === undefined) {
          if (!polling) break;
          await new Promise<void>((resolve) => idleLanes.push(resolve));
          continue;
        }
        if (buffer.length < concurrency) wakePoller();
        if (await this.#run(queue, handler, job)) {
          done.push(job.id);
          if (done.length >= batchSize) void flush();
          else flushTimer ??= setTimeout(() => void flush(), COMPLETION_WAIT_MS);
        }
      }
    };
    const lanes = Array.from({ length: concurrency }, lane);
    this.#workers.push(poller(), Promise.all(lanes).then(flush));
  }

  /**
   * How long until the queue's next job is due, by the database's clock, at most `capMs`: an idle
   * queue is looked at every `capMs`, yet a job due sooner starts on time rather than a poll late.
   * One due already, after a fetch that found some, may have come in meanwhile or been held by
   * another worker's fetch: look again soon. After a fetch that found none it is one the queue's
   * policy holds back (a singleton already running): look again at the usual pace.
   */
  async #untilDue(queue: string, capMs: number, foundSome: boolean): Promise<number> {
    try {
      const { rows } = await this.#connection.executeSql(
        `SELECT (extract(epoch FROM min(start_after) - now()) * 1000)::float8 AS ms
           FROM ${JOBS_SCHEMA}.job WHERE name = $1 AND state < 'active'`,
        [queue],
      );
      const ms = (rows[0] as { ms: number | null } | undefined)?.ms;
      if (ms === null || ms === undefined) return capMs;
      if (ms <= 0) return foundSome ? MIN_POLL_MS : capMs;
      return Math.min(capMs, ms);
    } catch {
      return capMs;
    }
  }

  /** Runs one job; a failure is recorded at once, a success is the caller's to record (true). */
  async #run<T>(queue: string, handler: JobHandler<T>, job: PgBoss.JobWithMetadata<T>): Promise<boolean> {
    try {
      await handler({ id: job.id, queue, data: job.data, retryCount: job.retryCount, retryLimit: job.retryLimit });
      return true;
    } catch (error) {
      this.#logger.warn({ err: error, queue, job: job.id, retryCount: job.retryCount }, 'job failed');
      await this.#settle(() =>
        this.#boss.fail(queue, job.id, error instanceof Error ? error : { message: String(error) }),
      );
      return false;
    }
  }

  /** A job left active by a failed update expires and is retried, so the worker carries on. */
  async #settle(update: () => Promise<unknown>): Promise<void> {
    try {
      await update();
    } catch (error) {
      this.#logger.error({ err: error }, 'could not record a job outcome');
    }
  }

  /** Resolves after `ms`, or sooner when stop() or the `wake` handed to `exposeWake` is called. */
  #sleep(ms: number, exposeWake?: (wake: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
      exposeWake?.(wake);
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

  /** Jobs pg-boss still holds (not yet archived), of the given states, oldest first. */
  async list(states: JobState[], limit = 100): Promise<JobSummary[]> {
    const { rows } = await this.#connection.executeSql(
      `SELECT id, name AS queue, state::text AS state, retry_count AS "retryCount", retry_limit AS "retryLimit",
              start_after AS "startAfter", started_on AS "startedOn", created_on AS "createdOn", data, output
         FROM ${JOBS_SCHEMA}.job WHERE state::text = ANY($1) ORDER BY created_on, id LIMIT $2`,
      [states, limit],
    );
    return rows as JobSummary[];
  }

  async schedules(): Promise<ScheduleSummary[]> {
    const { rows } = await this.#connection.executeSql(
      `SELECT name AS queue, cron, timezone FROM ${JOBS_SCHEMA}.schedule ORDER BY name`,
      [],
    );
    return rows as ScheduleSummary[];
  }

  /** Counts by queue and state, and how late each queue's oldest due job is: what /metrics shows. */
  async stats(): Promise<QueueStats[]> {
    const { rows } = await this.#connection.executeSql(
      `SELECT name AS queue, state::text AS state, count(*)::int AS n,
              coalesce(extract(epoch FROM now() - min(start_after)
                FILTER (WHERE state IN ('created', 'retry') AND start_after <= now())), 0)::float8 AS lag
         FROM ${JOBS_SCHEMA}.job WHERE name = ANY($1) GROUP BY name, state`,
      [[...this.#queues]],
    );
    const byQueue = new Map<string, QueueStats>();
    for (const queue of this.#queues) byQueue.set(queue, { queue, states: {}, lagSeconds: 0 });
    for (const row of rows as Array<{ queue: string; state: JobState; n: number; lag: number }>) {
      const stats = byQueue.get(row.queue);
      if (stats === undefined) continue;
      stats.states[row.state] = row.n;
      stats.lagSeconds = Math.max(stats.lagSeconds, row.lag);
    }
    return [...byQueue.values()];
  }

  /** One more attempt for a failed job: the operator's `jobs retry`. False when no failed job has this id. */
  async retry(id: string): Promise<boolean> {
    const { rows } = await this.#connection.executeSql(
      `SELECT name FROM ${JOBS_SCHEMA}.job WHERE id::text = $1 AND state = 'failed'`,
      [id],
    );
    const queue = (rows[0] as { name: string } | undefined)?.name;
    if (queue === undefined) return false;
    await this.#boss.retry(queue, id);
    return true;
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
