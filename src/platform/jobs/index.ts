/*
 * pg-boss behind our interface. This file: starting, queue setup, sending in the caller's
 * transaction, schedules, stopping. connection.ts is the adapter over the application's pool, worker.ts our
 * worker loop, admin.ts the operators' queries (`cli jobs`, /metrics).
 */
import PgBoss from 'pg-boss';
import type { Database, Tx } from '../db/index.ts';
import {
  type JobState,
  type JobSummary,
  listJobs,
  listSchedules,
  type QueueStats,
  queueStats,
  retryFailedJob,
  type ScheduleSummary,
} from './admin.ts';
import { type Connection, connectionFor, inTransaction, JOBS_SCHEMA, oneProcessAtATime } from './connection.ts';
import { type JobHandler, type JobsLogger, WorkerLoop, type WorkOptions } from './worker.ts';

export type { JobState, JobSummary, QueueStats, ScheduleSummary } from './admin.ts';
export { JOBS_SCHEMA } from './connection.ts';
export type { Job, JobHandler, JobsLogger, WorkOptions } from './worker.ts';

/** Concurrent GRANTs on one object fail ("tuple concurrently updated"), so starting processes take turns. */
const GRANTS_LOCK_KEY = 7_246_814;

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

/** pg-boss checks options by key ('retryDelay' in options), so a key left undefined fails its checks. */
const defined = <T extends object>(options: T): T =>
  Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as T;

/** Our interface over pg-boss: jobs enqueued in the application's transactions, worked and scheduled here. */
export class Jobs {
  readonly #boss: PgBoss;
  readonly #connection: Connection;
  readonly #db: Database;
  readonly #queues = new Set<string>();
  readonly #workers: WorkerLoop;

  constructor(db: Database, options: JobsOptions) {
    this.#db = db;
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
    this.#boss.on('error', (error) => options.logger.error({ err: error }, 'job queue error'));
    this.#workers = new WorkerLoop(this.#boss, this.#connection, options.logger, options.pollingIntervalSeconds ?? 1);
  }

  /** Creates or migrates pg-boss's schema and grants the application roles what send() needs. Run after migrations. */
  async start(): Promise<void> {
    await oneProcessAtATime(this.#db, async () => {
      await this.#boss.start();
      await this.#connection.executeSql(GRANTS, []);
    });
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
    await oneProcessAtATime(this.#db, async () => {
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
   * Many jobs of one queue in the caller's transaction, in one statement (pg-boss's insert), each
   * after its own delay; for a change that enqueues one job per task of many.
   */
  async sendMany(tx: Tx, queue: string, jobs: ReadonlyArray<{ data: object; startAfterSeconds?: number }>) {
    this.#requireQueue(queue);
    if (jobs.length === 0) return;
    await this.#boss.insert(
      jobs.map((job) => ({ name: queue, data: job.data, startAfter: `${job.startAfterSeconds ?? 0} seconds` })),
      { db: inTransaction(tx) },
    );
  }

  /**
   * Processes the queue's jobs in this process until stop() (worker.ts). A handler that throws
   * fails its job, which is retried as its queue or send() options say.
   */
  async work<T>(queue: string, handler: JobHandler<T>, options: WorkOptions = {}): Promise<void> {
    this.#requireQueue(queue);
    this.#workers.work(queue, handler, options);
  }

  /**
   * A job on `queue` each time the cron expression (UTC) comes due, once across all workers: pg-boss
   * lets one process at a time turn schedules into jobs, and at most one a minute per schedule.
   */
  async schedule(queue: string, cron: string, data: object = {}): Promise<void> {
    this.#requireQueue(queue);
    await this.#boss.schedule(queue, cron, data, { tz: 'UTC' });
  }

  list(states: JobState[], limit = 100): Promise<JobSummary[]> {
    return listJobs(this.#connection, states, limit);
  }

  schedules(): Promise<ScheduleSummary[]> {
    return listSchedules(this.#connection);
  }

  stats(): Promise<QueueStats[]> {
    return queueStats(this.#connection, [...this.#queues]);
  }

  retry(id: string): Promise<boolean> {
    return retryFailedJob(this.#boss, this.#connection, id);
  }

  /** Lets running jobs finish, takes no new ones, then waits for pg-boss's last statements. */
  async stop(): Promise<void> {
    await this.#workers.stop();
    await this.#boss.stop({ graceful: true, close: false });
    await this.#connection.drain();
  }
}
