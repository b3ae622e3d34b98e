import { and, asc, type Column, count, desc, eq, gte, type SQL, sql } from 'drizzle-orm';
import { WITH_ACTOR } from '../accounts/queries.ts';
import {
  type Database,
  intArraySql,
  queryRows,
  queryText,
  type TenantQueryOptions,
  type Tx,
} from '../platform/db/index.ts';
import {
  type TaskPriority,
  type TaskStatus,
  TEXT_SEARCH_CONFIG,
  taskHistory,
  tasks,
  type UserRole,
} from '../platform/db/schema.ts';
import { inScopeSql, projectSeenSql, scopeCte, unsafeUserSeesProjectSql } from '../projects/access.ts';
import type { TaskHead } from './hooks.ts';
import { fromTextRow, openBlockersSql, TASK_COLUMNS, type TaskRow, type TaskTextRow, watchingSql } from './mapping.ts';
import type { OrderKey } from './schemas.ts';

/*
 * Every read of tasks: the service's (the single statements of the list, one task and the
 * statistics, each with the caller's check; the locked read a write starts from; history), and
 * what other features read of tasks (notifications' emails, reminders and digests), since the
 * table is this feature's.
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

/**
 * The project of a task the transaction sees (row-level security hides the others), for features
 * that keep things on tasks (attachments): what their access check starts from.
 */
export async function findTaskProject(tx: Tx, companyId: number, taskId: number): Promise<number | undefined> {
  const [row] = await tx
    .select({ projectId: tasks.projectId })
    .from(tasks)
    .where(and(eq(tasks.companyId, companyId), eq(tasks.id, taskId)));
  return row?.projectId;
}

const HEADS_BY_IDS = `select t.id, t.project_id, t.title, t.status, t.state_id, t.assigned_to, t.created_by,
  ${openBlockersSql('t')} as open_blockers
  from tasks t where t.company_id = $1 and t.id = any($2::int[])`;

/**
 * The heads of tasks by id (hooks.ts' TaskHead) with their open blockers, in the transaction's
 * view, those that exist: what the waiting tasks of a task done are decided on by (a sixth of the
 * time of their whole rows, for the 5,000 waiting for a hub task), and what an email records.
 */
export async function findTaskHeads(
  tx: Tx,
  companyId: number,
  ids: readonly number[],
): Promise<Map<number, { head: TaskHead; openBlockers: number }>> {
  if (ids.length === 0) return new Map();
  const rows = await queryText<{
    id: number;
    project_id: number;
    title: string;
    status: TaskStatus;
    state_id: number;
    assigned_to: number | null;
    created_by: number;
    open_blockers: number;
  }>(tx, HEADS_BY_IDS, [companyId, [...ids]]);
  return new Map(
    rows.map((row) => [
      row.id,
      {
        head: {
          id: row.id,
          project: row.project_id,
          title: row.title,
          status: row.status,
          state: row.state_id,
          assigned_to: row.assigned_to,
          created_by: row.created_by,
        },
        openBlockers: row.open_blockers,
      },
    ]),
  );
}

/**
 * Tasks of one company as the people named beside them see them, in one statement of its own (one
 * round trip): for what is prepared for a person later than the write that caused it (emails). A
 * pair whose task is gone, or whose person no longer sees its project, is absent; the result is
 * keyed by factsKey.
 */
export async function taskFactsSeenBy(
  db: Database,
  companyId: number,
  pairs: ReadonlyArray<{ taskId: number; userId: number }>,
): Promise<Map<string, TaskFacts>> {
  if (pairs.length === 0) return new Map();
  const rows = await db.tenant(companyId, (tx) =>
    queryRows<Omit<TaskFacts, 'dueDate'> & { dueDate: string | null; viewer: number }>(
      tx,
      sql`select v.user_id as viewer, t.id, t.title, t.status, t.priority, t.due_date as "dueDate",
            t.assigned_to as "assignedTo"
          from unnest(${intArraySql(pairs.map((p) => p.taskId))}, ${intArraySql(pairs.map((p) => p.userId))})
            as v(task_id, user_id)
          join tasks t on t.company_id = ${companyId} and t.id = v.task_id
          where ${unsafeUserSeesProjectSql(sql`t.company_id`, sql`v.user_id`, sql`t.project_id`)}`,
    ),
  );
  return new Map(
    rows.map(({ viewer, ...row }) => [
      factsKey(row.id, viewer),
      { ...row, dueDate: row.dueDate === null ? null : new Date(row.dueDate) },
    ]),
  );
}

export const factsKey = (taskId: number, userId: number) => `${taskId}:${userId}`;

/**
 * Whether the caller sees the task a column names, as SQL, for what other features keep about
 * tasks (emails): one that lives in a project they see, or was deleted from one.
 */
export function taskSeenSql(companyId: number, taskId: SQL | Column, actor: { id: number; role: UserRole }): SQL {
  if (actor.role === 'admin') return sql`true`;
  return sql`(exists (select 1 from tasks st where st.company_id = ${companyId} and st.id = ${taskId}
      and ${projectSeenSql(companyId, sql`st.project_id`, actor)})
    or exists (select 1 from task_history sh where sh.company_id = ${companyId} and sh.task_id = ${taskId}
      and sh.action = 'deleted' and ${projectSeenSql(companyId, sql`sh.project_id`, actor)}))`;
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
  /** PostgreSQL's text for it, exact to the microsecond: a Date would round it, and a reminder names it. */
  dueDate: string;
  assignedTo: number;
  projectId: number;
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
      : sql`(t.due_date, t.company_id, t.id) > (${after.dueDate}::timestamptz, ${after.companyId}::int, ${after.taskId}::int)`;
  return queryRows<DueTask>(
    tx,
    sql`select t.company_id as "companyId", t.id as "taskId", t.title, t.due_date::text as "dueDate",
               t.assigned_to as "assignedTo", t.project_id as "projectId"
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
  /** Names the project: its tasks are listed even when it is archived. */
  projectId?: number;
  stateId?: number;
  /** Tasks with any of these labels. */
  labels?: number[];
  /** `<KEY>-<number>`, checked and upper-cased by the service. */
  ref?: string;
  /** The subtasks of this task; 0 for the top-level tasks. */
  parentId?: number;
  isBlocked?: boolean;
}

export interface OrderTerm {
  key: OrderKey;
  descending: boolean;
}

export async function findTask(
  tx: Tx,
  companyId: number,
  id: number,
  options: { forUpdate?: boolean } = {},
): Promise<TaskRow | undefined> {
  const [row] = await queryText<TaskTextRow>(tx, options.forUpdate === true ? TASK_BY_ID_FOR_UPDATE : TASK_BY_ID, [
    companyId,
    id,
  ]);
  return row === undefined ? undefined : fromTextRow(row);
}

// Fixed text, not drizzle's builder: building the select of the row's columns was about a tenth
// of the server's CPU in a PATCH (bench/dependencies.ts, its CPU profile).
const TASK_BY_ID = `select ${TASK_COLUMNS} from tasks t where t.company_id = $1 and t.id = $2`;
// No key update: the foreign keys of task_dependencies and task_labels take a key share lock on
// the tasks they name, and a write linking two tasks must not wait for a writer of the other.
const TASK_BY_ID_FOR_UPDATE = `${TASK_BY_ID} for no key update of t`;

/** Whether the transaction's user watches the task: the row's is_watching, read again after a write's listeners. */
export async function isWatching(tx: Tx, companyId: number, id: number): Promise<boolean> {
  const [row] = await queryRows<{ watching: boolean }>(
    tx,
    sql`select ${sql.raw(watchingSql('t'))} as watching from (select ${companyId}::int as company_id, ${id}::int as id) t`,
  );
  return row?.watching === true;
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

const deletedSince = (companyId: number, since: Date, seen: SQL) =>
  and(eq(taskHistory.companyId, companyId), eq(taskHistory.action, 'deleted'), gte(taskHistory.at, since), seen);

/** `seen`: a condition on the entry's project (projects' projectSeenSql), the caller's to see. */
export async function countDeleted(tx: Tx, companyId: number, since: Date, seen: SQL): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(taskHistory)
    .where(deletedSince(companyId, since, seen));
  return row?.n ?? 0;
}

/** Oldest first, so a client paging through them ends at the newest. */
export function listDeleted(tx: Tx, companyId: number, since: Date, seen: SQL, limit: number, offset: number) {
  return tx
    .select({ id: taskHistory.taskId, at: taskHistory.at })
    .from(taskHistory)
    .where(deletedSince(companyId, since, seen))
    .orderBy(asc(taskHistory.at), asc(taskHistory.id))
    .limit(limit)
    .offset(offset);
}

/*
 * The read paths below are single statements of fixed text, run with queryText: each answers the
 * caller's check (requireActor's: a user of this company, active) together with the data, so a
 * request costs one round trip between BEGIN and COMMIT instead of three, and no query building.
 * The data is read only when the caller passes: every part is gated on `actor.active`.
 */

/**
 * Runs one statement of SQL text in a tenant transaction: tenantQuery on its own (one round trip
 * on PostgreSQL), or queryText inside a transaction of the caller's.
 */
export type Run = <T>(text: string, values: unknown[], options?: Pick<TenantQueryOptions, 'plan'>) => Promise<T[]>;

const ORDER_SQL: Record<OrderKey, string> = {
  created_at: 't.created_at',
  updated_at: 't.updated_at',
  due_date: 't.due_date',
  priority: 't.priority_rank',
};

const FILTER_SQL: Array<[keyof TaskFilter, (p: string) => string]> = [
  ['status', (p) => `t.status = ${p}`],
  ['priority', (p) => `t.priority = ${p}`],
  ['assignedTo', (p) => `t.assigned_to = ${p}`],
  ['createdBy', (p) => `t.created_by = ${p}`],
  ['dueFrom', (p) => `t.due_date >= ${p}`],
  ['dueUntil', (p) => `t.due_date <= ${p}`],
  ['updatedFrom', (p) => `t.updated_at >= ${p}`],
  ['search', (p) => `t.search @@ websearch_to_tsquery('${TEXT_SEARCH_CONFIG}'::regconfig, ${p})`],
  ['projectId', (p) => `t.project_id = ${p}`],
  ['stateId', (p) => `t.state_id = ${p}`],
  [
    'labels',
    (p) =>
      `exists (select 1 from task_labels l where l.company_id = t.company_id and l.task_id = t.id and l.label_id = any(${p}::int[]))`,
  ],
  ['parentId', (p) => `coalesce(t.parent_id, 0) = ${p}`],
  // One hash of the company's blocked tasks ($1 is the company), not a lookup per row counted.
  [
    'isBlocked',
    (p) =>
      `(t.id in (select b.task_id from task_open_blockers b where b.company_id = $1 and b.open_blockers > 0)) = ${p}`,
  ],
  [
    'ref',
    (p) => `t.number = split_part(${p}::text, '-', 2)::int and t.project_id = (select r.id from projects r
      where r.company_id = t.company_id and upper(r.key) = split_part(${p}::text, '-', 1))`,
  ],
];

/** Filters the kept counters can answer (per project and status) without counting tasks. */
const COUNTED_BY_COUNTERS: ReadonlySet<keyof TaskFilter> = new Set(['status', 'projectId']);

/**
 * The statements differ only by which filters are given and the ordering: few in common use, but
 * some 160,000 possible, so only the latest LIST_STATEMENTS_KEPT are kept (and prepared, see
 * src/platform/db/statements.ts).
 */
const LIST_STATEMENTS_KEPT = 1_000;
const listStatements = new Map<string, string>();

function listStatement(
  filter: TaskFilter,
  ordering: OrderTerm[] | undefined,
): { text: string; given: (keyof TaskFilter)[] } {
  const given = FILTER_SQL.map(([key]) => key).filter((key) => filter[key] !== undefined);
  const shape = `${given.join(',')}|${ordering?.map((t) => (t.descending ? '-' : '') + t.key).join(',') ?? ''}`;
  let text = listStatements.get(shape);
  if (text === undefined) {
    // The projects the caller sees; an archived one only when the filter names it.
    const scope = scopeCte(given.includes('projectId') ? 'included' : 'excluded');
    const where = ['t.company_id = $1', inScopeSql('t.project_id')];
    const counters = [`company_id = $1`, inScopeSql('project_id')];
    let searchParam: string | undefined;
    let statusParam: string | undefined;
    given.forEach((key, i) => {
      const param = `$${i + 3}`;
      if (key === 'search') searchParam = param;
      if (key === 'status') statusParam = param;
      if (key === 'projectId') counters.push(`project_id = ${param}`);
      where.push((FILTER_SQL.find(([k]) => k === key) as [keyof TaskFilter, (p: string) => string])[1](param));
    });
    const limit = `$${given.length + 3}`;
    const offset = `$${given.length + 4}`;
    // As before: id last, in the direction of the last term; a search without ordering is ranked:
    // ts_rank of tasks.search (title weight A, description B, comments C; drizzle/0022) over every
    // match, so the first page is the top of the whole ranking. Measured (README, Performance):
    // visiting each match for the count and visibility costs twice what ranking it does.
    const terms = ordering ?? [{ key: 'created_at', descending: true }];
    const orderBy = terms.map((t) => `${ORDER_SQL[t.key]}${t.descending ? ' desc' : ''}`);
    const ranked = ordering === undefined && searchParam !== undefined;
    if (ranked) orderBy.unshift('t.rank desc');
    orderBy.push(terms.at(-1)?.descending === false ? 't.id' : 't.id desc');
    // The page is one row per task (a nested loop keeps the page's order), or a single row of nulls
    // after active and total when the page is empty or the caller is refused.
    if (searchParam !== undefined) {
      // A search is counted and ranked over the same matches, found once by the text index. Only
      // what orders the page is kept of each match: the page's 20 rows are read again by their key.
      const rank = ranked
        ? `, ts_rank(t.search, websearch_to_tsquery('${TEXT_SEARCH_CONFIG}'::regconfig, ${searchParam})) as rank`
        : '';
      const keys = [...new Set(['t.id', ...terms.map((term) => ORDER_SQL[term.key])])].join(', ');
      const pageOrder = orderBy.map((term) => term.replace(/^t\./, 'm.'));
      // The key and labels only for the page's rows, not for every match.
      text = `${WITH_ACTOR}, ${scope}, matches as materialized (
          select ${keys}${rank} from tasks t
          where ${where.join(' and ')} and (select active from actor)
        )
        select actor.active, (select count(*)::int from matches) as total, page.*
        from actor
        left join lateral (
          select ${TASK_COLUMNS}
          from (select * from matches t order by ${orderBy.join(', ')} limit ${limit} offset ${offset}) m
          join tasks t on t.company_id = $1 and t.id = m.id
          order by ${pageOrder.join(', ')}
        ) page on true`;
    } else {
      // Without filters, or with a status or project only, the kept counters answer; otherwise the rows are counted.
      const kept =
        statusParam === undefined
          ? 'todo + in_progress + done'
          : `case ${statusParam}::text when 'todo' then todo when 'in_progress' then in_progress when 'done' then done end`;
      const counted = given.every((key) => COUNTED_BY_COUNTERS.has(key))
        ? `select coalesce(sum(${kept}), 0)::int as total from task_stats where ${counters.join(' and ')} and actor.active`
        : `select count(*)::int as total from tasks t where ${where.join(' and ')} and actor.active`;
      text = `${WITH_ACTOR}, ${scope}
        select actor.active, counted.total, page.*
        from actor
        left join lateral (${counted}) counted on true
        left join lateral (
          select ${TASK_COLUMNS} from tasks t
          where ${where.join(' and ')} and actor.active
          order by ${orderBy.join(', ')}
          limit ${limit} offset ${offset}
        ) page on true`;
    }
    if (listStatements.size >= LIST_STATEMENTS_KEPT)
      listStatements.delete(listStatements.keys().next().value as string);
    listStatements.set(shape, text);
  }
  return { text, given };
}

/**
 * Measured on PostgreSQL 15 with 100,000 tasks (bench/tasks-explain.ts): left to itself, it plans
 * the unfiltered page anew on every execution (its generic plan, the same index scan, is estimated
 * dear only because LIMIT is a parameter), which cost more than running it; and it settles on a
 * generic plan for searches that is a third slower than the one planned for the words searched.
 * Other filters are left to its own choice, which can depend on their values.
 */
function planFor(given: (keyof TaskFilter)[]): TenantQueryOptions['plan'] {
  if (given.includes('search')) return 'custom';
  if (given.every((key) => COUNTED_BY_COUNTERS.has(key))) return 'generic';
  return undefined;
}

export interface CheckedPage {
  /** The caller's check, as in WITH_ACTOR. */
  active: boolean | null;
  total: number;
  rows: TaskRow[];
}

/** The caller's check, the count and one page of tasks, in one statement. */
export async function listPage(
  run: Run,
  companyId: number,
  userId: number,
  filter: TaskFilter,
  ordering: OrderTerm[] | undefined,
  limit: number,
  offset: number,
): Promise<CheckedPage> {
  const { text, given } = listStatement(filter, ordering);
  const values: unknown[] = [companyId, userId];
  for (const key of given) {
    const value = filter[key];
    values.push(value instanceof Date ? value.toISOString() : value);
  }
  values.push(limit, offset);
  const rows = await run<TaskTextRow & { active: boolean | null; total: number | null }>(text, values, {
    plan: planFor(given),
  });
  const head = rows[0];
  return {
    active: head?.active ?? null,
    total: head?.total ?? 0,
    rows: head?.id === null || head?.id === undefined ? [] : rows.map(fromTextRow),
  };
}

const FIND_TASK = `${WITH_ACTOR}, ${scopeCte('included')}
  select actor.active, found.* from actor
  left join lateral (select ${TASK_COLUMNS} from tasks t where t.company_id = $1 and t.id = $3
    and ${inScopeSql('t.project_id')} and actor.active) found
  on true`;

/** The caller's check and one task (undefined when there is none), in one statement. */
export async function findCheckedTask(
  run: Run,
  companyId: number,
  userId: number,
  id: number,
): Promise<{ active: boolean | null; row: TaskRow | undefined }> {
  const [row] = await run<TaskTextRow & { active: boolean | null }>(FIND_TASK, [companyId, userId, id]);
  return { active: row?.active ?? null, row: row?.id == null ? undefined : fromTextRow(row) };
}

export interface StatisticsRow {
  active: boolean | null;
  todo: number;
  in_progress: number;
  done: number;
  low: number;
  medium: number;
  high: number;
  urgent: number;
  unassigned: number;
  overdue: number;
  completion_rate: number;
  avg_completion_hours: number | null;
  by_assignee: Array<{ user_id: number; username: string; total: number; done: number }>;
  created_per_day: Array<{ date: string; count: number }>;
  /** Only with a project: its statuses in order with their tasks, or null when it is not seen. */
  by_state?: Array<{ state: number; name: string; category: TaskStatus; count: number }> | null;
}

/**
 * The statistics from the counters kept by the trigger function task_counters_changed() (current
 * definition: drizzle/0014): a few dozen small rows, whatever the number of tasks. overdue is the
 * open tasks due on days before today (counters) plus those due earlier today (a short range of
 * tasks_open_due_idx). The rates are computed as the aggregates over tasks computed them, in the
 * same numeric types, so they round alike.
 */
const TODAY = `(now() at time zone 'UTC')::date`;
// The tasks due earlier today are found by tasks_open_due_idx, and only then filtered by project:
// OFFSET 0 keeps the filter out of their scan. With it inside, the generic plan that a project's
// statistics settle on scanned the project's every task (tasks_project_idx): 4.4 ms of 4.5 for
// 5,000 tasks; the company's 621 due earlier that day, 0.7 ms of 1.6.
function statisticsStatement(oneProject: boolean): string {
  // The projects the caller sees and the statistics cover; with a project, that one (archived or not).
  const scope = `${inScopeSql('project_id')}${oneProject ? ' and project_id = $3' : ''}`;
  // With a project, its statuses and how many tasks each has: none (null) when the caller does not
  // see the project, which is then a 404.
  const byState = oneProject
    ? `
  left join lateral (
    select json_agg(json_build_object('state', st.id, 'name', st.name, 'category', st.category,
                                      'count', coalesce(c.total, 0)) order by st.position, st.id) as by_state
    from statuses st
    left join (
      select state_id, sum(total)::int as total from task_state_counts
      where company_id = $1 and project_id = $3 group by state_id
    ) c on c.state_id = st.id
    where st.company_id = $1 and st.project_id = $3 and ${inScopeSql('st.project_id')} and actor.active
  ) b on true`
    : '';
  return `${WITH_ACTOR}, ${scopeCte(oneProject ? 'included' : 'excluded')}
  select actor.active, s.*, o.overdue, a.by_assignee, d.created_per_day${oneProject ? ', b.by_state' : ''}
  from actor
  left join lateral (
    select coalesce(sum(todo), 0)::int as todo, coalesce(sum(in_progress), 0)::int as in_progress,
           coalesce(sum(done), 0)::int as done, coalesce(sum(low), 0)::int as low,
           coalesce(sum(medium), 0)::int as medium, coalesce(sum(high), 0)::int as high,
           coalesce(sum(urgent), 0)::int as urgent, coalesce(sum(unassigned), 0)::int as unassigned,
           coalesce(round(100.0 * sum(done) / nullif(sum(todo) + sum(in_progress) + sum(done), 0), 1), 0)::float8
             as completion_rate,
           round(sum(completion_seconds) / nullif(sum(completed), 0) / 3600, 2)::float8 as avg_completion_hours
    from task_stats where company_id = $1 and ${scope} and actor.active
  ) s on true
  left join lateral (
    select (select coalesce(sum(open_due), 0) from task_days
            where company_id = $1 and ${scope} and day < ${TODAY} and actor.active)
         + (select count(*) from (
              select t.project_id from tasks t
              where t.company_id = $1 and t.status <> 'done' and t.due_date >= ${TODAY}::timestamp at time zone 'UTC'
                and t.due_date < now() and actor.active
              offset 0
            ) due where due.${scope})
           as overdue
  ) o on true
  left join lateral (
    select coalesce(json_agg(json_build_object('user_id', u.id, 'username', u.username, 'total', c.total, 'done', c.done)
                             order by c.total desc, u.id), '[]') as by_assignee
    from (
      select assigned_to, sum(total)::int as total, sum(done)::int as done
      from task_assignee_counts where company_id = $1 and ${scope} and actor.active
      group by assigned_to having sum(total) > 0
    ) c
    join users u on u.company_id = $1 and u.id = c.assigned_to
  ) a on true
  left join lateral (
    select json_agg(json_build_object('date', to_char(days.day, 'YYYY-MM-DD'), 'count', coalesce(n.created, 0))
                    order by days.day) as created_per_day
    from generate_series(${TODAY} - 29, ${TODAY}, interval '1 day') as days(day)
    left join (
      select day, sum(created)::int as created from task_days
      where company_id = $1 and ${scope} and day >= ${TODAY} - 29 and actor.active
      group by day
    ) n on n.day = days.day::date
  ) d on true${byState}`;
}
const STATISTICS = statisticsStatement(false);
const PROJECT_STATISTICS = statisticsStatement(true);

export async function checkedStatistics(
  run: Run,
  companyId: number,
  userId: number,
  projectId?: number,
): Promise<StatisticsRow> {
  const [row] = await run<StatisticsRow>(
    projectId === undefined ? STATISTICS : PROJECT_STATISTICS,
    projectId === undefined ? [companyId, userId] : [companyId, userId, projectId],
  );
  if (row === undefined) throw new Error('statistics returned no row');
  return { ...row, overdue: Number(row.overdue) };
}
