import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../platform/db/index.ts';

/**
 * The counters the triggers keep (task_counters_changed(), drizzle/0016) grow a row for each
 * shard a write lands on (the writer's backend, so that concurrent writers do not queue on one
 * row), per project, and for task_days per day, without end: statistics sum them all. Folded here
 * into as few rows as give the same sums: every shard into shard 0, except today's days, which
 * writers are busy with; and in task_days, the days before the statistics' 30-day window into one
 * row per project on '-infinity' (only their sum of open tasks due, the part of overdue, is read).
 * A row a writer adds after this is folded next time. Returns how many rows went.
 */
export async function unsafeCompactCounters(tx: Tx): Promise<number> {
  // The day as the triggers and statistics count days: in UTC.
  const today = `(now() at time zone 'UTC')::date`;
  let removed = 0;
  // One statement per table: the deleted rows' values go into their shard-0 row, made or added to.
  const fold = async (table: string, key: string, sums: string[], fresh: string, folded: string) => {
    const rows = await queryRows<{ removed: number }>(
      tx,
      sql.raw(`
      with gone as (
        delete from ${table} c where ${fresh}
        returning ${folded}, ${sums.map((s) => `c.${s}`).join(', ')}
      ), added as (
        insert into ${table} as c (${key}, shard, ${sums.join(', ')})
        select ${key}, 0, ${sums.map((s) => `sum(${s})`).join(', ')} from gone
        group by ${key} order by ${key}
        on conflict (${key}, shard) do update set ${sums.map((s) => `${s} = c.${s} + excluded.${s}`).join(', ')}
      )
      select count(*)::int as removed from gone`),
    );
    removed += rows[0]?.removed ?? 0;
  };
  const counts = ['todo', 'in_progress', 'done', 'low', 'medium', 'high', 'urgent', 'unassigned', 'completed'];
  await fold(
    'task_stats',
    'company_id, project_id',
    [...counts, 'completion_seconds'],
    'c.shard <> 0',
    'c.company_id, c.project_id',
  );
  await fold(
    'task_assignee_counts',
    'company_id, project_id, assigned_to',
    ['total', 'done'],
    'c.shard <> 0',
    'c.company_id, c.project_id, c.assigned_to',
  );
  await fold(
    'task_state_counts',
    'company_id, project_id, state_id',
    ['total'],
    'c.shard <> 0',
    'c.company_id, c.project_id, c.state_id',
  );
  await fold(
    'task_days',
    'company_id, project_id, day',
    ['created', 'open_due'],
    `(c.shard <> 0 and c.day < ${today}) or (c.day < ${today} - 31 and c.day <> '-infinity')`,
    `c.company_id, c.project_id, case when c.day < ${today} - 31 then '-infinity'::date else c.day end as day`,
  );
  return removed;
}
