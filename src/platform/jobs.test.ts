import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_DB, type TestDatabase, unique } from '../../test/helpers.ts';
import { sleep, until } from '../../test/timing.ts';
import { type Database, openPostgres, queryRows } from './db/index.ts';
import { type Job, Jobs, type JobsOptions } from './jobs/index.ts';

const logger = pino({ level: 'silent' });
const fast: JobsOptions = { logger, processing: true, pollingIntervalSeconds: 0.5 };

/** What the database holds, read as its owner: the application roles may not read job payloads. */
async function jobState(db: Database, id: string): Promise<string | undefined> {
  const client = db.client as { query(text: string, values: unknown[]): Promise<{ rows: { state: string }[] }> };
  const { rows } = await client.query('SELECT state::text FROM pgboss.job WHERE id = $1', [id]);
  return rows[0]?.state;
}

/** How many jobs of a queue wait or run: none means nothing more of it will run. */
async function pending(db: Database, queue: string): Promise<number> {
  const client = db.client as { query(text: string, values: unknown[]): Promise<{ rows: { n: number }[] }> };
  const { rows } = await client.query(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
    [queue],
  );
  return rows[0]?.n ?? 0;
}

describe(`jobs (${TEST_DB})`, () => {
  let database: TestDatabase;
  let jobs: Jobs;

  beforeAll(async () => {
    database = await openTestDatabase();
    jobs = new Jobs(database.db, fast);
    await jobs.start();
  });
  afterAll(async () => {
    await jobs?.stop();
    await database?.close();
  });

  async function worked(options: Parameters<Jobs['createQueue']>[1] = {}) {
    const queue = unique('q');
    await jobs.createQueue(queue, options);
    const runs: Array<Job<{ n: number }> & { at: number }> = [];
    return { queue, runs, record: (job: Job<{ n: number }>) => runs.push({ ...job, at: Date.now() }) };
  }

  it('processes a job sent in a transaction that commits, as either application role', async () => {
    const { queue, runs, record } = await worked();
    await jobs.work<{ n: number }>(queue, async (job) => void record(job));
    await database.db.tenant(1, (tx) => jobs.send(tx, queue, { n: 1 }));
    await database.db.unsafeSystem((tx) => jobs.send(tx, queue, { n: 2 }));
    await until(() => runs.length === 2);
    expect(runs.map((r) => r.data.n).sort()).toEqual([1, 2]);
    expect(await jobState(database.db, runs[0]?.id as string)).toBe('completed');
  });

  it('leaves no job behind a transaction that rolls back', async () => {
    const { queue, runs, record } = await worked();
    await jobs.work<{ n: number }>(queue, async (job) => void record(job));
    let id: string | null = null;
    await expect(
      database.db.tenant(1, async (tx) => {
        id = await jobs.send(tx, queue, { n: 1 });
        throw new Error('the write fails after the job was sent');
      }),
    ).rejects.toThrow('the write fails');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await jobState(database.db, id as unknown as string)).toBeUndefined();
    // A job sent after it runs, and it alone: the rolled-back one would have come first.
    await database.db.unsafeSystem((tx) => jobs.send(tx, queue, { n: 2 }));
    await until(() => runs.length > 0);
    expect(runs.map((r) => r.data.n)).toEqual([2]);
  });

  it('does not let a tenant transaction read job payloads', async () => {
    const read = database.db.tenant(1, (tx) => queryRows(tx, sql`SELECT data FROM pgboss.job LIMIT 1`));
    await expect(read).rejects.toMatchObject({ cause: { message: expect.stringMatching(/permission denied/) } });
  });

  it('refuses a queue that was never created instead of losing the job', async () => {
    await expect(database.db.unsafeSystem((tx) => jobs.send(tx, unique('missing'), {}))).rejects.toThrow(/createQueue/);
  });

  it("keeps one waiting job per singletonKey on a 'short' queue", async () => {
    const { queue, runs, record } = await worked({ policy: 'short' });
    const ids = await database.db.unsafeSystem(async (tx) => [
      await jobs.send(tx, queue, { n: 1 }, { singletonKey: 'task-7', startAfterSeconds: 1 }),
      await jobs.send(tx, queue, { n: 2 }, { singletonKey: 'task-7', startAfterSeconds: 1 }),
      await jobs.send(tx, queue, { n: 3 }, { singletonKey: 'task-8', startAfterSeconds: 1 }),
    ]);
    expect(ids[0]).not.toBeNull();
    expect(ids[1]).toBeNull();
    await jobs.work<{ n: number }>(queue, async (job) => void record(job));
    // Once no job of the queue waits or runs, nothing more can run.
    await until(async () => runs.length === 2 && (await pending(database.db, queue)) === 0);
    expect(runs.map((r) => r.data.n).sort()).toEqual([1, 3]);
  });

  it('runs a delayed job after its delay, not before', async () => {
    const { queue, runs, record } = await worked();
    await jobs.work<{ n: number }>(queue, async (job) => void record(job));
    const sent = Date.now();
    await database.db.unsafeSystem((tx) => jobs.send(tx, queue, { n: 1 }, { startAfterSeconds: 2 }));
    await until(() => runs.length === 1);
    const waited = (runs[0]?.at ?? 0) - sent;
    expect(waited).toBeGreaterThanOrEqual(1_990);
    // the delay plus one polling interval, with room for a busy machine
    expect(waited).toBeLessThan(3_500);
  });

  it('retries a failing job with exponential backoff until it succeeds', async () => {
    const { queue, runs, record } = await worked();
    await jobs.work<{ n: number }>(queue, async (job) => {
      record(job);
      if (job.retryCount < 2) throw new Error(`attempt ${job.retryCount + 1} fails`);
    });
    const id = await database.db.unsafeSystem((tx) =>
      jobs.send(tx, queue, { n: 1 }, { retryLimit: 3, retryDelaySeconds: 1, retryBackoff: true }),
    );
    await until(() => runs.length === 3, 15_000);
    expect(runs.map((r) => r.retryCount)).toEqual([0, 1, 2]);
    const [first, second, third] = runs.map((r) => r.at) as [number, number, number];
    // pg-boss waits delay × 2^n × (1 to 2): 1-2 s, then 2-4 s, plus polling
    expect(second - first).toBeGreaterThanOrEqual(950);
    expect(third - second).toBeGreaterThanOrEqual(1_950);
    await until(async () => (await jobState(database.db, id as string)) === 'completed');
  });

  it('on stop lets the running job finish and completes it', async () => {
    const own = new Jobs(database.db, fast);
    await own.start();
    const queue = unique('q');
    await own.createQueue(queue);
    let started = false;
    let finished = false;
    await own.work(queue, async () => {
      started = true;
      await sleep(1_000);
      finished = true;
    });
    const id = await database.db.unsafeSystem((tx) => own.send(tx, queue, {}));
    await until(() => started);
    await own.stop();
    expect(finished).toBe(true);
    expect(await jobState(database.db, id as string)).toBe('completed');
  });
});

describe.runIf(TEST_DB === 'postgres')('jobs with two workers on one PostgreSQL database', () => {
  let database: TestDatabase;
  const workers: Array<{ db: Database; jobs: Jobs }> = [];

  async function startWorker(options: Partial<JobsOptions> = {}) {
    const db = openPostgres({ url: database.url as string });
    const jobs = new Jobs(db, { ...fast, ...options });
    await jobs.start();
    workers.push({ db, jobs });
    return jobs;
  }

  beforeAll(async () => {
    database = await openTestDatabase();
  });
  afterAll(async () => {
    for (const { db, jobs } of workers) {
      await jobs.stop();
      await db.close();
    }
    await database?.close();
  });

  it('shares 200 jobs between them and runs none twice', async () => {
    const queue = unique('q');
    const runs: Array<{ worker: number; n: number }> = [];
    const [one, two] = await Promise.all([startWorker(), startWorker()]);
    for (const [worker, jobs] of [one, two].entries()) {
      await jobs.createQueue(queue);
      await jobs.work<{ n: number }>(
        queue,
        async (job) => {
          runs.push({ worker, n: job.data.n });
          await sleep(2);
        },
        { batchSize: 10 },
      );
    }
    await database.db.unsafeSystem(async (tx) => {
      for (let n = 0; n < 200; n++) await one.send(tx, queue, { n });
    });
    // Once every job is completed, none can run again.
    await until(async () => runs.length >= 200 && (await pending(database.db, queue)) === 0, 20_000);
    expect(runs).toHaveLength(200);
    expect(new Set(runs.map((r) => r.n)).size).toBe(200);
    expect(new Set(runs.map((r) => r.worker))).toEqual(new Set([0, 1]));
  });

  it('fires a scheduled job once per schedule however many workers run', async () => {
    // pg-boss fires at most once a minute per schedule: keep the observation inside one minute.
    const second = new Date().getUTCSeconds();
    if (second > 40) await sleep((61 - second) * 1000);
    const queue = unique('cron');
    const runs: number[] = [];
    const clocks = { cronMonitorIntervalSeconds: 1, cronWorkerIntervalSeconds: 1 };
    for (const jobs of await Promise.all([startWorker(clocks), startWorker(clocks)])) {
      await jobs.createQueue(queue);
      await jobs.schedule(queue, '* * * * *');
      await jobs.work(queue, async () => void runs.push(Date.now()));
    }
    await until(() => runs.length > 0, 10_000);
    // several cron checks by each worker after the first fire
    await sleep(5_000);
    expect(runs).toHaveLength(1);
  }, 60_000);
});
