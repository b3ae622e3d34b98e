import { and, eq, isNull, sql } from 'drizzle-orm';
import { intArraySql, queryRows, type Tx } from '../platform/db/index.ts';
import { type InboxKind, inboxItems, taskWatchers } from '../platform/db/schema.ts';
import { projectKeySql, unsafeUserSeesProjectSql } from '../projects/access.ts';
import type { DueTask } from '../tasks/reads.ts';

/*
 * The inbox's tables are this feature's; what an item shows of its task (ref, title) and its actor
 * (username) is read with it, from tasks, projects and users, in the statement that lists items.
 */

export interface ItemRow {
  id: number;
  userId: number;
  kind: InboxKind;
  taskId: number;
  ref: string;
  title: string;
  actorId: number | null;
  actorUsername: string | null;
  createdAt: string;
  readAt: string | null;
}

const ITEM_COLUMNS = sql.raw(`i.id, i.user_id as "userId", i.kind, i.task_id as "taskId",
  ${projectKeySql('t')} || '-' || t.number as ref, t.title, i.actor_id as "actorId",
  a.username as "actorUsername", i.created_at as "createdAt", i.read_at as "readAt"`);

const ITEM_FROM = sql.raw(`inbox_items i
  join tasks t on t.company_id = i.company_id and t.id = i.task_id
  left join users a on a.company_id = i.company_id and a.id = i.actor_id`);

const mine = (companyId: number, userId: number, unread: boolean) =>
  sql`i.company_id = ${companyId} and i.user_id = ${userId}${unread ? sql` and i.read_at is null` : sql``}`;

export async function countItems(tx: Tx, companyId: number, userId: number, unread: boolean): Promise<number> {
  // Row-level security keeps the items of tasks the user no longer sees out of the count too.
  const [row] = await queryRows<{ n: number }>(
    tx,
    sql`select count(*)::int as n from inbox_items i where ${mine(companyId, userId, unread)}`,
  );
  return row?.n ?? 0;
}

/** Newest first (ids grow with time: inbox_items_user_idx, or the unread one). */
export function listItems(
  tx: Tx,
  companyId: number,
  userId: number,
  unread: boolean,
  limit: number,
  offset: number,
): Promise<ItemRow[]> {
  return queryRows<ItemRow>(
    tx,
    sql`select ${ITEM_COLUMNS} from ${ITEM_FROM} where ${mine(companyId, userId, unread)}
        order by i.id desc limit ${limit} offset ${offset}`,
  );
}

export function itemsByIds(tx: Tx, companyId: number, ids: number[]): Promise<ItemRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return queryRows<ItemRow>(
    tx,
    sql`select ${ITEM_COLUMNS} from ${ITEM_FROM} where i.company_id = ${companyId} and i.id = any(${intArraySql(ids)})
        order by i.id`,
  );
}

/** Marks one of the user's items read (kept as first read); false when it is not theirs to see. */
export async function markRead(tx: Tx, companyId: number, userId: number, id: number): Promise<boolean> {
  const rows = await tx
    .update(inboxItems)
    .set({ readAt: sql`coalesce(${inboxItems.readAt}, now())` })
    .where(and(eq(inboxItems.companyId, companyId), eq(inboxItems.userId, userId), eq(inboxItems.id, id)))
    .returning({ id: inboxItems.id });
  return rows.length > 0;
}

export async function markAllRead(tx: Tx, companyId: number, userId: number): Promise<void> {
  await tx
    .update(inboxItems)
    .set({ readAt: sql`now()` })
    .where(and(eq(inboxItems.companyId, companyId), eq(inboxItems.userId, userId), isNull(inboxItems.readAt)));
}

export async function watch(tx: Tx, companyId: number, taskId: number, userId: number): Promise<void> {
  await tx.insert(taskWatchers).values({ companyId, taskId, userId }).onConflictDoNothing();
}

export async function unwatch(tx: Tx, companyId: number, taskId: number, userId: number): Promise<void> {
  await tx
    .delete(taskWatchers)
    .where(
      and(eq(taskWatchers.companyId, companyId), eq(taskWatchers.taskId, taskId), eq(taskWatchers.userId, userId)),
    );
}

export interface Watch {
  taskId: number;
  projectId: number;
  userId: number;
}

/**
 * Starts these people watching these tasks, those who see the task's project; in the company's
 * view (the caller's transaction with no user named), as these rows are others' too.
 */
export async function addWatchers(tx: Tx, companyId: number, watches: readonly Watch[]): Promise<void> {
  if (watches.length === 0) return;
  await tx.execute(sql`
    insert into task_watchers (company_id, task_id, user_id)
    select ${companyId}::int, w.task_id, w.user_id
      from unnest(${intArraySql(watches.map((w) => w.taskId))}, ${intArraySql(watches.map((w) => w.userId))},
                  ${intArraySql(watches.map((w) => w.projectId))}) as w(task_id, user_id, project_id)
     where ${unsafeUserSeesProjectSql(sql`${companyId}::int`, sql`w.user_id`, sql`w.project_id`)}
    on conflict do nothing`);
}

/**
 * The creator watching the task they create, as SQL over the CTE `created` (a row of tasks) of the
 * creating statement: they see its project, having been allowed to create there.
 */
export const creatorWatchesSql = (created: string) =>
  `insert into task_watchers (company_id, task_id, user_id) select company_id, id, created_by from ${created}
   on conflict do nothing`;

/** Who watches these tasks, in the company's view. */
export function watchersOf(
  tx: Tx,
  companyId: number,
  taskIds: readonly number[],
): Promise<Array<{ taskId: number; userId: number }>> {
  if (taskIds.length === 0) return Promise.resolve([]);
  return queryRows(
    tx,
    sql`select task_id as "taskId", user_id as "userId" from task_watchers
         where company_id = ${companyId} and task_id = any(${intArraySql([...taskIds])})`,
  );
}

export interface NewItem {
  userId: number;
  kind: InboxKind;
  taskId: number;
  projectId: number;
  actorId: number | null;
}

/**
 * Records these items for those of their recipients who are active and see the task's project, in
 * the company's view; the ids of those recorded.
 */
export async function insertItems(tx: Tx, companyId: number, items: readonly NewItem[]): Promise<number[]> {
  if (items.length === 0) return [];
  const rows = await queryRows<{ id: number }>(
    tx,
    sql`insert into inbox_items (company_id, user_id, kind, task_id, actor_id)
        select ${companyId}::int, n.user_id, n.kind, n.task_id, n.actor_id
          from unnest(${intArraySql(items.map((i) => i.userId))}, ${sql.param(items.map((i) => i.kind))}::text[],
                      ${intArraySql(items.map((i) => i.taskId))}, ${intArraySql(items.map((i) => i.projectId))},
                      ${sql.param(items.map((i) => i.actorId))}::int[])
               as n(user_id, kind, task_id, project_id, actor_id)
         where ${unsafeUserSeesProjectSql(sql`${companyId}::int`, sql`n.user_id`, sql`n.project_id`)}
        returning id`,
  );
  return rows.map((r) => r.id);
}

/**
 * Across companies (the reminder scan): a `due_soon` item to each assignee of these tasks who still
 * sees its project, once per due date: none when they got one since the day before it.
 */
export function unsafeRecordDueSoon(
  tx: Tx,
  due: readonly DueTask[],
): Promise<Array<{ companyId: number; id: number }>> {
  if (due.length === 0) return Promise.resolve([]);
  return queryRows(
    tx,
    sql`insert into inbox_items (company_id, user_id, kind, task_id)
        select d.company_id, d.user_id, 'due_soon', d.task_id
          from unnest(${intArraySql(due.map((d) => d.companyId))}, ${intArraySql(due.map((d) => d.taskId))},
                      ${intArraySql(due.map((d) => d.assignedTo))}, ${intArraySql(due.map((d) => d.projectId))},
                      ${sql.param(due.map((d) => d.dueDate))}::timestamptz[])
               as d(company_id, task_id, user_id, project_id, due_date)
         where ${unsafeUserSeesProjectSql(sql`d.company_id`, sql`d.user_id`, sql`d.project_id`)}
           and not exists (select 1 from inbox_items i
                            where i.company_id = d.company_id and i.user_id = d.user_id and i.task_id = d.task_id
                              and i.kind = 'due_soon' and i.created_at > d.due_date - interval '1 day')
        returning company_id as "companyId", id`,
  );
}
