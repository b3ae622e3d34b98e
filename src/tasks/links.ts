import { and, eq, sql } from 'drizzle-orm';
import { intArraySql, queryRows, queryText, type Tx, withoutUser } from '../platform/db/index.ts';
import { taskDependencies } from '../platform/db/schema.ts';
import { fromTextRow, sharedTask, TASK_COLUMNS, type TaskRow, type TaskTextRow } from './mapping.ts';
import type { Task } from './schemas.ts';

/*
 * The links between tasks (dependencies, subtasks), which this feature owns: the SQL of their
 * writes and checks. Reads made in the writer's transaction see what row-level security lets the
 * writer see; the checks that must cover every task of the company (cycles, depth) call the
 * SECURITY DEFINER functions of drizzle/0018, which return ids only.
 */

/** At most this many levels of subtasks, a top-level task being the first. */
export const MAX_DEPTH = 5;

/**
 * Serializes the writes of one company's links until the transaction ends: two transactions that
 * would each close half of a cycle (A waits for B, B waits for A) cannot both check before either
 * has written. Only link writes take it; the cycle check then reads every committed edge.
 */
export async function lockLinks(tx: Tx, companyId: number): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('task_links'), ${companyId})`);
}

export interface SeenTask {
  id: number;
  ref: string;
  title: string;
}

/** The tasks among `ids` that the transaction's user sees, with their refs. */
export async function seenTasks(tx: Tx, companyId: number, ids: number[]): Promise<Map<number, SeenTask>> {
  if (ids.length === 0) return new Map();
  const rows = await queryRows<SeenTask>(
    tx,
    sql`select t.id, p.key || '-' || t.number as ref, t.title from tasks t
          join projects p on p.company_id = t.company_id and p.id = t.project_id
         where t.company_id = ${companyId} and t.id = any(${intArraySql(ids)})`,
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/**
 * Makes the blockers of `taskId` that the user sees exactly `blockerIds` (those they do not see
 * stay: row-level security hides them from the delete). Triggers keep open_blockers.
 */
export async function setBlockedBy(tx: Tx, companyId: number, taskId: number, blockerIds: number[]): Promise<void> {
  const removed = tx
    .delete(taskDependencies)
    .where(
      and(
        eq(taskDependencies.companyId, companyId),
        eq(taskDependencies.taskId, taskId),
        sql`${taskDependencies.blockerId} <> all(${intArraySql(blockerIds)})`,
      ),
    );
  if (blockerIds.length === 0) {
    await removed;
    return;
  }
  // Written back to back, in this order; neither needs the other's answer.
  await Promise.all([
    removed,
    tx
      .insert(taskDependencies)
      .values(blockerIds.map((blockerId) => ({ companyId, taskId, blockerId })))
      .onConflictDoNothing(),
  ]);
}

/**
 * A path `taskId` → one of `blockerIds` → … → `taskId` along "waits for" when adding those
 * blockers would close a cycle, or undefined. The common answer (no cycle) is one recursive
 * query; the path is only worked out for the error message.
 */
export async function cycleThrough(
  tx: Tx,
  companyId: number,
  taskId: number,
  blockerIds: number[],
): Promise<number[] | undefined> {
  if (blockerIds.includes(taskId)) return [taskId, taskId];
  if (blockerIds.length === 0) return undefined;
  const [closes] = await queryRows<{ closes: boolean }>(
    tx,
    sql`select task_dependency_closes_cycle(${companyId}, ${taskId}, ${intArraySql(blockerIds)}) as closes`,
  );
  if (closes?.closes !== true) return undefined;
  const edges = await queryRows<{ task_id: number; blocker_id: number }>(
    tx,
    sql`select task_id, blocker_id from task_dependency_reach(${companyId}, ${intArraySql(blockerIds)})`,
  );
  const next = new Map<number, number[]>();
  for (const { task_id, blocker_id } of edges) next.set(task_id, [...(next.get(task_id) ?? []), blocker_id]);
  // Breadth first from the new blockers: the shortest way back to the task.
  const cameFrom = new Map<number, number>(blockerIds.map((id) => [id, taskId]));
  const queue = [...blockerIds];
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i] as number;
    if (at === taskId) break;
    for (const to of next.get(at) ?? []) {
      if (cameFrom.has(to)) continue;
      cameFrom.set(to, at);
      queue.push(to);
    }
  }
  const path = [taskId];
  for (let at = cameFrom.get(taskId); at !== undefined && at !== taskId; at = cameFrom.get(at)) path.push(at);
  path.push(taskId);
  return path.reverse();
}

/** The ancestors of a task, nearest first, itself included; over every task of the company. */
export async function ancestorsOf(tx: Tx, companyId: number, taskId: number): Promise<number[]> {
  const [row] = await queryRows<{ ids: number[] }>(tx, sql`select task_ancestors(${companyId}, ${taskId}) as ids`);
  return row?.ids ?? [];
}

/** How many levels a task's subtree spans, itself being one. */
export async function subtreeHeight(tx: Tx, companyId: number, taskId: number): Promise<number> {
  const [row] = await queryRows<{ height: number }>(
    tx,
    sql`select task_subtree_height(${companyId}, ${taskId}) as height`,
  );
  return row?.height ?? 1;
}

/** The open blockers of a task that the user sees ("Blocked by …"), by ref. */
export function openBlockersSeen(tx: Tx, companyId: number, taskId: number): Promise<SeenTask[]> {
  return queryRows<SeenTask>(
    tx,
    sql`select b.id, p.key || '-' || b.number as ref, b.title
          from task_dependencies d
          join tasks b on b.company_id = d.company_id and b.id = d.blocker_id
          join projects p on p.company_id = b.company_id and p.id = b.project_id
         where d.company_id = ${companyId} and d.task_id = ${taskId} and b.status <> 'done'
         order by p.key, b.number`,
  );
}

// Fixed text, as reads.ts' findTask: drizzle's builder and its mapping of each field were a
// tenth of a hub task's done (5,000 waiting rows; bench/dependencies.ts, the CPU profile).
const LINKED_TO_TASK = `select ${TASK_COLUMNS} from tasks t where t.company_id = $1 and t.id = any(array(
  select d.task_id from task_dependencies d where d.company_id = $1 and d.blocker_id = $2
  union select c.id from tasks c where c.company_id = $1 and c.parent_id = $2)) order by t.id`;
const ROWS_BY_IDS = `select ${TASK_COLUMNS} from tasks t where t.company_id = $1 and t.id = any($2::int[]) order by t.id`;

/**
 * The tasks a write to `taskId` changes besides it: those waiting for it and its subtasks. Read
 * in the company's view (see withoutUser), as they are now.
 */
export async function linkedToTask(tx: Tx, companyId: number, taskId: number): Promise<TaskRow[]> {
  return (await queryText<TaskTextRow>(tx, LINKED_TO_TASK, [companyId, taskId])).map(fromTextRow);
}

/** The tasks waiting for any of `ids`, each with how many of them it waits for, over every task of the company. */
export async function blockersAmong(tx: Tx, companyId: number, ids: readonly number[]): Promise<Map<number, number>> {
  const rows = await queryRows<{ task_id: number; n: number }>(
    tx,
    sql`select task_id, n from task_waiters(${companyId}, ${intArraySql([...ids])})`,
  );
  return new Map(rows.map((row) => [row.task_id, row.n]));
}

/** Tasks by id, in the transaction's view, with the linked tasks that are in another project. */
export async function rowsByIds(tx: Tx, companyId: number, ids: number[]): Promise<TaskRow[]> {
  return (await queryText<TaskTextRow>(tx, ROWS_BY_IDS, [companyId, ids])).map(fromTextRow);
}

/**
 * The rows as everyone who sees their project may be told of them (mapping.ts' sharedTask), the
 * projects of their linked tasks read in one statement by primary key, in the transaction's view.
 */
export async function sharedTasks(tx: Tx, companyId: number, rows: readonly TaskRow[]): Promise<Task[]> {
  const ids = [
    ...new Set(
      rows.flatMap((row) => [...row.blocked_by, ...row.blocking, ...(row.parent === null ? [] : [row.parent])]),
    ),
  ];
  const projects =
    ids.length === 0
      ? []
      : await queryRows<{ id: number; project_id: number }>(
          tx,
          sql`select id, project_id from tasks where company_id = ${companyId} and id = any(${intArraySql(ids)})`,
        );
  const projectOf = new Map(projects.map((p) => [p.id, p.project_id]));
  return rows.map((row) => sharedTask(row, projectOf));
}

/** Rows read in the company's view (tasks the writer may not see), each with its shared form. */
export function readShared(
  tx: Tx,
  companyId: number,
  read: () => Promise<TaskRow[]>,
): Promise<Array<{ row: TaskRow; task: Task }>> {
  return withoutUser(tx, async () => {
    const rows = await read();
    const tasks = await sharedTasks(tx, companyId, rows);
    return rows.map((row, i) => ({ row, task: tasks[i] as Task }));
  });
}

/**
 * A task as everyone who sees its project may be told of it, read in the transaction's company
 * view: for the features whose rows change what a task shows (its attachment_count), which announce
 * it as task_updated once they commit.
 */
export async function sharedTaskOf(tx: Tx, companyId: number, taskId: number): Promise<Task | undefined> {
  const [found] = await readShared(tx, companyId, () => rowsByIds(tx, companyId, [taskId]));
  return found?.task;
}
