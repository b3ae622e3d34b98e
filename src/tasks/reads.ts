import { and, eq, sql } from 'drizzle-orm';
import { type Database, queryRows, type Tx, tenantQuery } from '../platform/db/index.ts';
import { type TaskPriority, type TaskStatus, tasks } from '../platform/db/schema.ts';

/*
 * What other features read of tasks (notifications' emails, reminders and digests): the table is
 * this feature's, so they go through these functions.
 */

/** What an email about a task says of it. */
export interface TaskFacts {
  id: number;
  title: string;
  status: TaskStatus;
  priority: TaskPriority;
  dueDate: Date | null;
  assignedTo: number | null;
}

const factColumns = {
  id: tasks.id,
  title: tasks.title,
  status: tasks.status,
  priority: tasks.priority,
  dueDate: tasks.dueDate,
  assignedTo: tasks.assignedTo,
};

export async function findTaskFacts(tx: Tx, companyId: number, taskId: number): Promise<TaskFacts | undefined> {
  const [row] = await tx
    .select(factColumns)
    .from(tasks)
    .where(and(eq(tasks.companyId, companyId), eq(tasks.id, taskId)));
  return row;
}

const FACTS_BY_IDS = `
  select t.id, t.title, t.status, t.priority, t.due_date as "dueDate", t.assigned_to as "assignedTo"
    from tasks t where t.company_id = $1 and t.id = any($2::int[])`;

/** Many tasks of one company in one statement of its own (one round trip); absent ids are absent. */
export async function taskFactsByIds(db: Database, companyId: number, ids: number[]): Promise<Map<number, TaskFacts>> {
  if (ids.length === 0) return new Map();
  const rows = await tenantQuery<Omit<TaskFacts, 'dueDate'> & { dueDate: string | null }>(db, companyId, FACTS_BY_IDS, [
    companyId,
    ids,
  ]);
  return new Map(rows.map((row) => [row.id, { ...row, dueDate: row.dueDate === null ? null : new Date(row.dueDate) }]));
}

/** A person's open tasks, overdue first, then by due date: a digest's content. */
export function openTasksOf(tx: Tx, companyId: number, userId: number, limit = 50): Promise<TaskFacts[]> {
  return tx
    .select(factColumns)
    .from(tasks)
    .where(and(eq(tasks.companyId, companyId), eq(tasks.assignedTo, userId), sql`${tasks.status} <> 'done'`))
    .orderBy(sql`${tasks.dueDate} asc nulls last`, tasks.id)
    .limit(limit);
}

export interface DueTask {
  companyId: number;
  taskId: number;
  title: string;
  dueDate: Date;
  assignedTo: number;
}

/** Where a page of unsafeOpenTasksDueWithin ended: the next page starts after it. */
export type DueCursor = Pick<DueTask, 'dueDate' | 'companyId' | 'taskId'>;

/**
 * Across companies (the scheduler's scan): open, assigned tasks due within the window, in due
 * order, a page at a time (tasks_due_open_idx).
 */
export function unsafeOpenTasksDueWithin(
  tx: Tx,
  withinHours: number,
  limit: number,
  after?: DueCursor,
): Promise<DueTask[]> {
  const from =
    after === undefined
      ? sql`true`
      : sql`(t.due_date, t.company_id, t.id) > (${new Date(after.dueDate).toISOString()}::timestamptz, ${after.companyId}::int, ${after.taskId}::int)`;
  return queryRows<DueTask>(
    tx,
    sql`select t.company_id as "companyId", t.id as "taskId", t.title, t.due_date as "dueDate",
               t.assigned_to as "assignedTo"
          from tasks t
         where t.status <> 'done' and t.assigned_to is not null
           and t.due_date > now() and t.due_date <= now() + make_interval(hours => ${withinHours})
           and ${from}
         order by t.due_date, t.company_id, t.id
         limit ${limit}`,
  );
}

/** Across companies: which of these people have at least one open task assigned to them. */
export async function unsafeWithOpenTasks(
  tx: Tx,
  people: Array<{ companyId: number; userId: number }>,
): Promise<Array<{ companyId: number; userId: number }>> {
  if (people.length === 0) return [];
  return queryRows(
    tx,
    sql`select p.company_id as "companyId", p.user_id as "userId"
          from unnest(${sql.param(people.map((p) => p.companyId))}::int[],
                      ${sql.param(people.map((p) => p.userId))}::int[]) as p(company_id, user_id)
         where exists (select 1 from tasks t
                        where t.company_id = p.company_id and t.assigned_to = p.user_id and t.status <> 'done')`,
  );
}
