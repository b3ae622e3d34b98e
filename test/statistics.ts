import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { MIGRATIONS_FOLDER, queryRows, type Tx } from '../src/platform/db/index.ts';
import type { Statistics } from '../src/tasks/schemas.ts';

/**
 * The contract's statistics computed the plain way, by aggregates over the company's tasks (as the
 * endpoint did before the counters): what the counters kept by triggers must always agree with.
 */
export async function directStatistics(tx: Tx, companyId: number): Promise<Statistics> {
  const [summary] = await queryRows<Record<string, string | number | null>>(
    tx,
    sql`
    select
      count(*)::int as total,
      count(*) filter (where status = 'todo')::int as todo,
      count(*) filter (where status = 'in_progress')::int as in_progress,
      count(*) filter (where status = 'done')::int as done,
      count(*) filter (where priority = 'low')::int as low,
      count(*) filter (where priority = 'medium')::int as medium,
      count(*) filter (where priority = 'high')::int as high,
      count(*) filter (where priority = 'urgent')::int as urgent,
      count(*) filter (where status <> 'done' and due_date < now())::int as overdue,
      count(*) filter (where assigned_to is null)::int as unassigned,
      coalesce(round(100.0 * count(*) filter (where status = 'done') / nullif(count(*), 0), 1), 0)::float8
        as completion_rate,
      round(
        extract(epoch from sum(completed_at - created_at) filter (where status = 'done'))
          / nullif(count(completed_at) filter (where status = 'done'), 0) / 3600,
        2
      )::float8 as avg_completion_hours
    from tasks where company_id = ${companyId}`,
  );
  if (summary === undefined) throw new Error('no summary');
  const n = (key: string) => Number(summary[key]);
  const byAssignee = await queryRows<{ user_id: number; username: string; total: number; done: number }>(
    tx,
    sql`
    select u.id as user_id, u.username, count(*)::int as total, count(*) filter (where t.status = 'done')::int as done
    from tasks t join users u on u.company_id = t.company_id and u.id = t.assigned_to
    where t.company_id = ${companyId}
    group by u.id, u.username
    order by total desc, u.id`,
  );
  const perDay = await queryRows<{ date: string; count: number }>(
    tx,
    sql`
    select to_char(day, 'YYYY-MM-DD') as date,
           (select count(*)::int from tasks
            where company_id = ${companyId} and (created_at at time zone 'UTC')::date = day) as count
    from generate_series((now() at time zone 'UTC')::date - 29, (now() at time zone 'UTC')::date, interval '1 day') as day
    order by day`,
  );
  return {
    total: n('total'),
    by_status: { todo: n('todo'), in_progress: n('in_progress'), done: n('done') },
    by_priority: { low: n('low'), medium: n('medium'), high: n('high'), urgent: n('urgent') },
    overdue: n('overdue'),
    completion_rate: n('completion_rate'),
    avg_completion_hours: summary.avg_completion_hours === null ? null : n('avg_completion_hours'),
    by_assignee: byAssignee,
    unassigned: n('unassigned'),
    created_per_day: perDay,
  };
}

/** A copy of the migrations up to and including `lastTag`, for migrating a database part of the way. */
export function migrationsUpTo(lastTag: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'migrations-'));
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalPath = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ idx: number; tag: string }> };
  const last = journal.entries.find((e) => e.tag === lastTag);
  if (last === undefined) throw new Error(`no migration ${lastTag}`);
  journal.entries = journal.entries.filter((e) => e.idx <= last.idx);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}
