import { sql } from 'drizzle-orm';
import { type TaskPriority, type TaskStatus, tasks } from '../platform/db/schema.ts';
import { projectKeySql } from '../projects/access.ts';
import type { Task } from './schemas.ts';

/**
 * A task row as every path reads it, the single-statement reads (queryText, tenantQuery) and the
 * Drizzle writes alike: the table's column names, timestamps as PostgreSQL's text, which becomes
 * the contract's ISO form without a Date in between.
 */
export interface TaskRow {
  id: number;
  company_id: number;
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  due_date: string | null;
  assigned_to: number | null;
  created_by: number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  project_id: number;
  number: number;
  state_id: number;
  project_key: string;
  labels: number[];
  /** Null when it has none, or when the reader does not see it. */
  parent: number | null;
  /** The parent whether the reader sees it or not: the writes' reads only. */
  parent_id?: number | null;
  blocked_by: number[];
  blocking: number[];
  open_blockers: number;
  subtasks_total: number;
  subtasks_done: number;
  comment_count: number;
  attachment_count: number;
  is_watching: boolean;
}

// The project's key (for the ref; it cannot change once the project has tasks) and the labels.
const labelIdsSql = (t: string) =>
  `array(select l.label_id from task_labels l where l.company_id = ${t}.company_id and l.task_id = ${t}.id
  order by l.label_id)`;

/*
 * The links, read under row-level security: the reader's transaction shows only the tasks they see,
 * and task_dependencies only the rows whose two tasks they see (drizzle/0018).
 */
// Most tasks have no parent: for those the CASE never runs the subquery (a plan node run per row).
const parentSql = (t: string) =>
  `case when ${t}.parent_id is not null then
  (select p.id from tasks p where p.company_id = ${t}.company_id and p.id = ${t}.parent_id) end`;
const blockedBySql = (t: string) =>
  `array(select d.blocker_id from task_dependencies d where d.company_id = ${t}.company_id and d.task_id = ${t}.id
  order by d.blocker_id)`;
const blockingSql = (t: string) =>
  `array(select d.task_id from task_dependencies d where d.company_id = ${t}.company_id and d.blocker_id = ${t}.id
  order by d.task_id)`;

/**
 * The three link fields in one subquery, as JSON: [open blockers, blocked_by, blocking], or null
 * for a task that has never had a dependency, which has no row in task_open_blockers (drizzle/0025):
 * a list reads an unlinked task's links with one lookup instead of three.
 */
const linksSql = (t: string) =>
  `(select json_build_array(b.open_blockers, ${blockedBySql(t)}, ${blockingSql(t)})
  from task_open_blockers b where b.company_id = ${t}.company_id and b.task_id = ${t}.id)`;

/** How many of the task's blockers are open, over the whole company (drizzle/0024). */
export const openBlockersSql = (t: string) =>
  `coalesce((select b.open_blockers from task_open_blockers b where b.company_id = ${t}.company_id
  and b.task_id = ${t}.id), 0)`;

/*
 * Whether the transaction's user (app.user_id) watches the task: the primary key of the inbox's
 * task_watchers, probed once per row (the user read once per statement); false with no user named,
 * as in the company's view that announcements are read in.
 */
export const watchingSql = (t: string) =>
  `exists (select 1 from task_watchers w where w.company_id = ${t}.company_id and w.task_id = ${t}.id
  and w.user_id = (select nullif(current_setting('app.user_id', true), '')::int))`;

/** The table's own columns of the row, in SQL text: `t` is the task. */
const TASK_TABLE_COLUMNS = `t.id, t.company_id, t.title, t.description, t.status, t.priority, t.due_date,
  t.assigned_to, t.created_by, t.created_at, t.updated_at, t.completed_at, t.project_id, t.number, t.state_id,
  t.parent_id, t.subtasks_total, t.subtasks_done, t.comment_count, t.attachment_count`;

/**
 * The row's columns in SQL text, for the statements written out (reads.ts, writes.ts): `t` is the
 * task. Their rows are TaskTextRows, the links in one column: fromTextRow makes TaskRows of them.
 */
export const TASK_COLUMNS = `${TASK_TABLE_COLUMNS},
  ${projectKeySql('t')} as project_key, ${labelIdsSql('t')} as labels, ${parentSql('t')} as parent,
  ${linksSql('t')} as links, ${watchingSql('t')} as is_watching`;

export type TaskTextRow = Omit<TaskRow, 'blocked_by' | 'blocking' | 'open_blockers'> & {
  links: [openBlockers: number, blockedBy: number[], blocking: number[]] | null;
};

/**
 * The row itself, given the three link fields: a copy (rest and spread of some thirty fields) cost
 * more than a list's whole mapping to tasks.
 */
export function fromTextRow<R extends TaskTextRow>(
  row: R,
): R & Pick<TaskRow, 'blocked_by' | 'blocking' | 'open_blockers'> {
  const linked = row as R & Pick<TaskRow, 'blocked_by' | 'blocking' | 'open_blockers'>;
  const links = row.links;
  linked.open_blockers = links === null ? 0 : links[0];
  linked.blocked_by = links === null ? [] : links[1];
  linked.blocking = links === null ? [] : links[2];
  return linked;
}

/**
 * The same row as a Drizzle selection (writes.ts). A timestamptz cast to text is the text the
 * driver receives for it in a single-statement read: the session's time zone is UTC.
 */
export const taskRowColumns = {
  id: tasks.id,
  company_id: tasks.companyId,
  title: tasks.title,
  description: tasks.description,
  status: tasks.status,
  priority: tasks.priority,
  due_date: sql<string | null>`${tasks.dueDate}::text`,
  assigned_to: tasks.assignedTo,
  created_by: tasks.createdBy,
  created_at: sql<string>`${tasks.createdAt}::text`,
  updated_at: sql<string>`${tasks.updatedAt}::text`,
  completed_at: sql<string | null>`${tasks.completedAt}::text`,
  project_id: tasks.projectId,
  number: tasks.number,
  state_id: tasks.stateId,
  project_key: sql<string>`${sql.raw(projectKeySql('"tasks"'))}`,
  labels: sql<number[]>`${sql.raw(labelIdsSql('"tasks"'))}`,
  parent: sql<number | null>`${sql.raw(parentSql('"tasks"'))}`,
  blocked_by: sql<number[]>`${sql.raw(blockedBySql('"tasks"'))}`,
  blocking: sql<number[]>`${sql.raw(blockingSql('"tasks"'))}`,
  parent_id: tasks.parentId,
  open_blockers: sql<number>`${sql.raw(openBlockersSql('"tasks"'))}`,
  subtasks_total: tasks.subtasksTotal,
  subtasks_done: tasks.subtasksDone,
  comment_count: tasks.commentCount,
  attachment_count: tasks.attachmentCount,
  is_watching: sql<boolean>`${sql.raw(watchingSql('"tasks"'))}`,
};

/** PostgreSQL's text for a timestamptz in UTC (its session time zone here): `2026-11-28 16:30:24.123456+00`. */
const PG_UTC_TIMESTAMP = /^([1-9]\d{3}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * PostgreSQL's text for a timestamptz in the contract's form, without a Date: the milliseconds are
 * the first three digits of the fraction, as Date's parser takes them. Anything else (another time
 * zone, years outside 1000–9999) goes through Date itself.
 */
export function isoFromPg(text: string): string {
  const match = PG_UTC_TIMESTAMP.exec(text);
  if (match === null) return new Date(text).toISOString();
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

const isoOrNull = (text: string | null) => (text === null ? null : isoFromPg(text));

/** The API's task from its row. */
export function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    due_date: isoOrNull(row.due_date),
    assigned_to: row.assigned_to,
    created_by: row.created_by,
    company: row.company_id,
    created_at: isoFromPg(row.created_at),
    updated_at: isoFromPg(row.updated_at),
    completed_at: isoOrNull(row.completed_at),
    project: row.project_id,
    number: row.number,
    ref: `${row.project_key}-${row.number}`,
    state: row.state_id,
    labels: row.labels,
    parent: row.parent,
    blocked_by: row.blocked_by,
    blocking: row.blocking,
    is_blocked: row.open_blockers > 0,
    subtasks: { total: row.subtasks_total, done: row.subtasks_done },
    comment_count: row.comment_count,
    attachment_count: row.attachment_count,
    is_watching: row.is_watching,
  };
}

/**
 * The task as everyone who sees its project may be told of it (events, history): its links to
 * tasks of other projects left out, since some of those who see this one may not see them (a link
 * whose project is unknown too). is_blocked, subtasks and comment_count stay: counts name no task;
 * is_watching is false, being one reader's.
 * `projectOf`: the project of each linked task (tasks/links.ts' sharedTasks reads them).
 */
export function sharedTask(row: TaskRow, projectOf: ReadonlyMap<number, number>): Task {
  const task = toTask(row);
  const here = (id: number) => projectOf.get(id) === row.project_id;
  return {
    ...task,
    parent: task.parent !== null && here(task.parent) ? task.parent : null,
    blocked_by: task.blocked_by.filter(here),
    blocking: task.blocking.filter(here),
    // The reader's own: nobody's in what is told to everyone.
    is_watching: false,
  };
}
