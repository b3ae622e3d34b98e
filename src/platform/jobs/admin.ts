import type PgBoss from 'pg-boss';
import { type Connection, JOBS_SCHEMA } from './connection.ts';

/*
 * What operators see of the queues: `cli jobs` and /metrics. Read straight from pg-boss's tables,
 * on the owner's connection: the application roles may not read other companies' job payloads.
 */

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

/** Jobs pg-boss still holds (not yet archived), of the given states, oldest first. */
export async function listJobs(connection: Connection, states: JobState[], limit: number): Promise<JobSummary[]> {
  const { rows } = await connection.executeSql(
    `SELECT id, name AS queue, state::text AS state, retry_count AS "retryCount", retry_limit AS "retryLimit",
            start_after AS "startAfter", started_on AS "startedOn", created_on AS "createdOn", data, output
       FROM ${JOBS_SCHEMA}.job WHERE state::text = ANY($1) ORDER BY created_on, id LIMIT $2`,
    [states, limit],
  );
  return rows as JobSummary[];
}

export async function listSchedules(connection: Connection): Promise<ScheduleSummary[]> {
  const { rows } = await connection.executeSql(
    `SELECT name AS queue, cron, timezone FROM ${JOBS_SCHEMA}.schedule ORDER BY name`,
    [],
  );
  return rows as ScheduleSummary[];
}

/** Counts by queue and state, and how late each queue's oldest due job is: what /metrics shows. */
export async function queueStats(connection: Connection, queues: string[]): Promise<QueueStats[]> {
  const { rows } = await connection.executeSql(
    `SELECT name AS queue, state::text AS state, count(*)::int AS n,
            coalesce(extract(epoch FROM now() - min(start_after)
              FILTER (WHERE state IN ('created', 'retry') AND start_after <= now())), 0)::float8 AS lag
       FROM ${JOBS_SCHEMA}.job WHERE name = ANY($1) GROUP BY name, state`,
    [queues],
  );
  const byQueue = new Map<string, QueueStats>();
  for (const queue of queues) byQueue.set(queue, { queue, states: {}, lagSeconds: 0 });
  for (const row of rows as Array<{ queue: string; state: JobState; n: number; lag: number }>) {
    const stats = byQueue.get(row.queue);
    if (stats === undefined) continue;
    stats.states[row.state] = row.n;
    stats.lagSeconds = Math.max(stats.lagSeconds, row.lag);
  }
  return [...byQueue.values()];
}

/** One more attempt for a failed job: the operator's `jobs retry`. False when no failed job has this id. */
export async function retryFailedJob(boss: PgBoss, connection: Connection, id: string): Promise<boolean> {
  const { rows } = await connection.executeSql(
    `SELECT name FROM ${JOBS_SCHEMA}.job WHERE id::text = $1 AND state = 'failed'`,
    [id],
  );
  const queue = (rows[0] as { name: string } | undefined)?.name;
  if (queue === undefined) return false;
  await boss.retry(queue, id);
  return true;
}
