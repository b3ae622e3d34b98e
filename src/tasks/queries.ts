import { and, asc, count, desc, eq, gte, lte, type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { queryRows, type Tx } from '../platform/db/index.ts';
import {
  idempotencyKeys,
  type TaskHistoryAction,
  type TaskPriority,
  type TaskStatus,
  TEXT_SEARCH_CONFIG,
  taskCounts,
  taskHistory,
  tasks,
  users,
} from '../platform/db/schema.ts';
import type { OrderKey } from './schemas.ts';

const taskColumns = {
  id: tasks.id,
  companyId: tasks.companyId,
  title: tasks.title,
  description: tasks.description,
  status: tasks.status,
  priority: tasks.priority,
  dueDate: tasks.dueDate,
  assignedTo: tasks.assignedTo,
  createdBy: tasks.createdBy,
  createdAt: tasks.createdAt,
  updatedAt: tasks.updatedAt,
  completedAt: tasks.completedAt,
};

export interface TaskRow {
  id: number;
  companyId: number;
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  dueDate: Date | null;
  assignedTo: number | null;
  createdBy: number;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

/** The columns a client can set, in the table's terms. */
export type TaskValues = Pick<TaskRow, 'title' | 'description' | 'status' | 'priority' | 'dueDate' | 'assignedTo'>;

export interface TaskFilter {
  status?: TaskStatus;
  priority?: TaskPriority;
  assignedTo?: number;
  createdBy?: number;
  /** Inclusive bounds. */
  dueFrom?: Date;
  dueUntil?: Date;
  updatedFrom?: Date;
  /** Web-search syntax; parsed by PostgreSQL, never spliced into SQL or a pattern. */
  search?: string;
}

export interface OrderTerm {
  key: OrderKey;
  descending: boolean;
}

const ORDER_COLUMNS = {
  created_at: tasks.createdAt,
  updated_at: tasks.updatedAt,
  due_date: tasks.dueDate,
  priority: tasks.priorityRank,
} as const satisfies Record<OrderKey, PgColumn>;

const searchQuery = (text: string) => sql`websearch_to_tsquery(${TEXT_SEARCH_CONFIG}::regconfig, ${text})`;

function filterWhere(companyId: number, filter: TaskFilter): SQL | undefined {
  return and(
    eq(tasks.companyId, companyId),
    filter.status === undefined ? undefined : eq(tasks.status, filter.status),
    filter.priority === undefined ? undefined : eq(tasks.priority, filter.priority),
    filter.assignedTo === undefined ? undefined : eq(tasks.assignedTo, filter.assignedTo),
    filter.createdBy === undefined ? undefined : eq(tasks.createdBy, filter.createdBy),
    filter.dueFrom === undefined ? undefined : gte(tasks.dueDate, filter.dueFrom),
    filter.dueUntil === undefined ? undefined : lte(tasks.dueDate, filter.dueUntil),
    filter.updatedFrom === undefined ? undefined : gte(tasks.updatedAt, filter.updatedFrom),
    filter.search === undefined ? undefined : sql`${tasks.search} @@ ${searchQuery(filter.search)}`,
  );
}

/** Without filters, or with a status only, the kept counters answer; otherwise the rows are counted. */
export async function countTasks(tx: Tx, companyId: number, filter: TaskFilter): Promise<number> {
  const { status, ...others } = filter;
  if (Object.values(others).every((value) => value === undefined)) {
    const [row] = await tx
      .select({ n: sql<number>`coalesce(sum(${taskCounts.n}), 0)::int` })
      .from(taskCounts)
      .where(
        and(eq(taskCounts.companyId, companyId), status === undefined ? undefined : eq(taskCounts.status, status)),
      );
    return row?.n ?? 0;
  }
  const [row] = await tx.select({ n: count() }).from(tasks).where(filterWhere(companyId, filter));
  return row?.n ?? 0;
}

/**
 * Every ordering ends with id in the direction of the last term, so pages are stable and each
 * single-key ordering reads one (company_id, key, id) index in one direction. Without an
 * ordering, a search is ranked (title above description), anything else is newest first.
 */
export function listTasks(
  tx: Tx,
  companyId: number,
  filter: TaskFilter,
  ordering: OrderTerm[] | undefined,
  limit: number,
  offset: number,
): Promise<TaskRow[]> {
  const terms = ordering ?? [{ key: 'created_at', descending: true }];
  const orderBy = terms.map((t) => (t.descending ? desc(ORDER_COLUMNS[t.key]) : asc(ORDER_COLUMNS[t.key])));
  if (ordering === undefined && filter.search !== undefined) {
    orderBy.unshift(sql`ts_rank(${tasks.search}, ${searchQuery(filter.search)}) desc`);
  }
  orderBy.push(terms.at(-1)?.descending === false ? asc(tasks.id) : desc(tasks.id));
  return tx
    .select(taskColumns)
    .from(tasks)
    .where(filterWhere(companyId, filter))
    .orderBy(...orderBy)
    .limit(limit)
    .offset(offset);
}

export async function findTask(
  tx: Tx,
  companyId: number,
  id: number,
  options: { forUpdate?: boolean } = {},
): Promise<TaskRow | undefined> {
  const query = tx
    .select(taskColumns)
    .from(tasks)
    .where(and(eq(tasks.companyId, companyId), eq(tasks.id, id)));
  const [row] = options.forUpdate === true ? await query.for('update') : await query;
  return row;
}

export async function insertTask(
  tx: Tx,
  values: TaskValues & { companyId: number; createdBy: number; completedAt: SQL | null },
): Promise<TaskRow> {
  const [row] = await tx.insert(tasks).values(values).returning(taskColumns);
  if (row === undefined) throw new Error('insert into tasks returned nothing');
  return row;
}

export async function updateTask(
  tx: Tx,
  companyId: number,
  id: number,
  changes: Partial<TaskValues> & { completedAt?: SQL | null },
): Promise<TaskRow> {
  const [row] = await tx
    .update(tasks)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(tasks.companyId, companyId), eq(tasks.id, id)))
    .returning(taskColumns);
  if (row === undefined) throw new Error('update of a locked task returned nothing');
  return row;
}

export async function deleteTask(tx: Tx, companyId: number, id: number): Promise<void> {
  await tx.delete(tasks).where(and(eq(tasks.companyId, companyId), eq(tasks.id, id)));
}

export async function isActiveUser(tx: Tx, companyId: number, userId: number): Promise<boolean> {
  const [row] = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.companyId, companyId), eq(users.id, userId), eq(users.isActive, true)));
  return row !== undefined;
}

export interface TaskSummary {
  total: number;
  todo: number;
  in_progress: number;
  done: number;
  low: number;
  medium: number;
  high: number;
  urgent: number;
  overdue: number;
  unassigned: number;
  completion_rate: number;
  avg_completion_hours: number | null;
}

/**
 * Every scalar of the statistics in one pass over the company's tasks: grouped first by (status,
 * priority), which the statistics index delivers in order, so each row feeds a few plain counters
 * instead of a dozen filtered aggregates; the dozen groups are then folded into the figures.
 */
export async function taskSummary(tx: Tx, companyId: number): Promise<TaskSummary> {
  const [row] = await queryRows<Record<keyof TaskSummary, string | number | null>>(
    tx,
    sql`
    with groups as (
      select status, priority, count(*) as n,
             count(*) filter (where assigned_to is null) as unassigned,
             count(*) filter (where due_date < now()) as past_due,
             count(completed_at) as completed,
             sum(completed_at - created_at) as time_to_complete
      from ${tasks}
      where company_id = ${companyId}
      group by status, priority
    )
    select
      coalesce(sum(n), 0)::int as total,
      coalesce(sum(n) filter (where status = 'todo'), 0)::int as todo,
      coalesce(sum(n) filter (where status = 'in_progress'), 0)::int as in_progress,
      coalesce(sum(n) filter (where status = 'done'), 0)::int as done,
      coalesce(sum(n) filter (where priority = 'low'), 0)::int as low,
      coalesce(sum(n) filter (where priority = 'medium'), 0)::int as medium,
      coalesce(sum(n) filter (where priority = 'high'), 0)::int as high,
      coalesce(sum(n) filter (where priority = 'urgent'), 0)::int as urgent,
      coalesce(sum(past_due) filter (where status <> 'done'), 0)::int as overdue,
      coalesce(sum(unassigned), 0)::int as unassigned,
      coalesce(round(100.0 * sum(n) filter (where status = 'done') / nullif(sum(n), 0), 1), 0)::float8
        as completion_rate,
      round(
        extract(epoch from sum(time_to_complete) filter (where status = 'done'))
          / nullif(sum(completed) filter (where status = 'done'), 0) / 3600,
        2
      )::float8 as avg_completion_hours
    from groups`,
  );
  if (row === undefined) throw new Error('aggregate returned no row');
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, v === null ? null : Number(v)]),
  ) as unknown as TaskSummary;
}

export function tasksByAssignee(tx: Tx, companyId: number) {
  return queryRows<{ user_id: number; username: string; total: number; done: number }>(
    tx,
    sql`
    select u.id as user_id, u.username, t.total, t.done
    from (
      select assigned_to, count(*)::int as total, count(*) filter (where status = 'done')::int as done
      from ${tasks}
      where company_id = ${companyId} and assigned_to is not null
      group by assigned_to
    ) t
    join ${users} u on u.company_id = ${companyId} and u.id = t.assigned_to
    order by t.total desc, u.id`,
  );
}

/** The last 30 UTC dates, oldest first, zeros included. */
export function tasksCreatedPerDay(tx: Tx, companyId: number) {
  return queryRows<{ date: string; count: number }>(
    tx,
    sql`
    with days as (
      select generate_series(
        (now() at time zone 'UTC')::date - 29, (now() at time zone 'UTC')::date, interval '1 day'
      )::date as day
    ),
    created as (
      select (created_at at time zone 'UTC')::date as day, count(*)::int as n
      from ${tasks}
      where company_id = ${companyId}
        and created_at >= ((now() at time zone 'UTC')::date - 29)::timestamp at time zone 'UTC'
      group by 1
    )
    select to_char(days.day, 'YYYY-MM-DD') as date, coalesce(created.n, 0) as count
    from days left join created using (day)
    order by days.day`,
  );
}

export async function insertHistory(
  tx: Tx,
  values: {
    companyId: number;
    taskId: number;
    actorId: number;
    action: TaskHistoryAction;
    changes: Record<string, [unknown, unknown]>;
  },
): Promise<void> {
  await tx.insert(taskHistory).values(values);
}

const historyOf = (companyId: number, taskId: number) =>
  and(eq(taskHistory.companyId, companyId), eq(taskHistory.taskId, taskId));

export async function countHistory(tx: Tx, companyId: number, taskId: number): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(taskHistory).where(historyOf(companyId, taskId));
  return row?.n ?? 0;
}

export function listHistory(tx: Tx, companyId: number, taskId: number, limit: number, offset: number) {
  return tx
    .select({
      id: taskHistory.id,
      taskId: taskHistory.taskId,
      actorId: taskHistory.actorId,
      action: taskHistory.action,
      changes: taskHistory.changes,
      at: taskHistory.at,
    })
    .from(taskHistory)
    .where(historyOf(companyId, taskId))
    .orderBy(desc(taskHistory.at), desc(taskHistory.id))
    .limit(limit)
    .offset(offset);
}

const deletedSince = (companyId: number, since: Date) =>
  and(eq(taskHistory.companyId, companyId), eq(taskHistory.action, 'deleted'), gte(taskHistory.at, since));

export async function countDeleted(tx: Tx, companyId: number, since: Date): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(taskHistory).where(deletedSince(companyId, since));
  return row?.n ?? 0;
}

/** Oldest first, so a client paging through them ends at the newest. */
export function listDeleted(tx: Tx, companyId: number, since: Date, limit: number, offset: number) {
  return tx
    .select({ id: taskHistory.taskId, at: taskHistory.at })
    .from(taskHistory)
    .where(deletedSince(companyId, since))
    .orderBy(asc(taskHistory.at), asc(taskHistory.id))
    .limit(limit)
    .offset(offset);
}

const IDEMPOTENCY_TTL = sql`interval '24 hours'`;

/**
 * Takes the key for this request: true when the caller is the first (or the earlier use has
 * expired). A concurrent holder of the same key makes this wait until it commits or rolls back.
 */
export async function claimIdempotencyKey(tx: Tx, companyId: number, userId: number, key: string): Promise<boolean> {
  const rows = await tx
    .insert(idempotencyKeys)
    .values({ companyId, userId, key })
    .onConflictDoUpdate({
      target: [idempotencyKeys.companyId, idempotencyKeys.userId, idempotencyKeys.key],
      set: { statusCode: null, body: null, createdAt: sql`now()` },
      setWhere: sql`${idempotencyKeys.createdAt} < now() - ${IDEMPOTENCY_TTL}`,
    })
    .returning({ key: idempotencyKeys.key });
  return rows.length > 0;
}

export async function findIdempotentAnswer(tx: Tx, companyId: number, userId: number, key: string) {
  const [row] = await tx
    .select({ statusCode: idempotencyKeys.statusCode, body: idempotencyKeys.body })
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.companyId, companyId),
        eq(idempotencyKeys.userId, userId),
        eq(idempotencyKeys.key, key),
        sql`${idempotencyKeys.createdAt} >= now() - ${IDEMPOTENCY_TTL}`,
      ),
    );
  return row?.statusCode == null ? undefined : { statusCode: row.statusCode, body: row.body };
}

export async function saveIdempotentAnswer(
  tx: Tx,
  companyId: number,
  userId: number,
  key: string,
  answer: { statusCode: number; body: unknown },
): Promise<void> {
  await tx
    .update(idempotencyKeys)
    .set(answer)
    .where(
      and(eq(idempotencyKeys.companyId, companyId), eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)),
    );
}
