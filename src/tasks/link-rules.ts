import { type Tx, withoutUser } from '../platform/db/index.ts';
import type { TaskStatus } from '../platform/db/schema.ts';
import { HttpError, invalid } from '../platform/errors.ts';
import type { BlockFlip, TaskWrite } from './hooks.ts';
import * as links from './links.ts';
import type { TaskRow } from './mapping.ts';
import * as reads from './reads.ts';

/*
 * The rules of links between tasks around a task write (tasks/service.ts): the links a write asks
 * for are checked (no cycle, no nesting too deep), a blocked task does not start or finish, and
 * the tasks a write changes through their links are found (those waiting for it, whose is_blocked
 * flips; parents, whose subtasks counts change). links.ts holds their SQL.
 */

/** Refs for a message, in the writer's view: a task they do not see is named as such, never by its ref. */
async function refsText(tx: Tx, companyId: number, ids: number[]): Promise<string> {
  const seen = await links.seenTasks(tx, companyId, ids);
  return ids.map((taskId) => seen.get(taskId)?.ref ?? '(a task you cannot see)').join(' → ');
}

/**
 * The links a write asks for, checked over every task of the company while no other link write of
 * the company runs (lockLinks): the new blockers close no cycle; the parent is not the task nor
 * one of its subtasks, and nests it no deeper than MAX_DEPTH levels.
 */
export async function checkLinks(
  tx: Tx,
  companyId: number,
  taskId: number | undefined,
  parentId: number | null | undefined,
  added: number[],
): Promise<void> {
  if (added.length === 0 && (parentId === undefined || parentId === null)) return;
  // Written back to back: the server takes the lock before the check reads.
  const [, cycle] = await Promise.all([
    links.lockLinks(tx, companyId),
    taskId === undefined ? undefined : links.cycleThrough(tx, companyId, taskId, added),
  ]);
  if (cycle !== undefined) {
    throw invalid({ blocked_by: [`This would close a cycle: ${await refsText(tx, companyId, cycle)}.`] });
  }
  if (parentId === undefined || parentId === null) return;
  const ancestors = await links.ancestorsOf(tx, companyId, parentId);
  if (taskId !== undefined && ancestors.includes(taskId)) {
    throw invalid({
      parent: [
        parentId === taskId ? 'A task cannot be its own parent.' : 'This task is one of its subtasks, directly or not.',
      ],
    });
  }
  const height = taskId === undefined ? 1 : await links.subtreeHeight(tx, companyId, taskId);
  if (ancestors.length + height > links.MAX_DEPTH) {
    throw invalid({ parent: [`Subtasks nest at most ${links.MAX_DEPTH} levels deep.`] });
  }
}

/**
 * A blocked task cannot enter an in_progress or done category: checked on the written row, whose
 * open_blockers the triggers keep in this transaction. A blocker reopened concurrently locks this
 * row before it counts (drizzle/0024), so it waits for this transaction's lock or this one reads
 * its result.
 */
export async function refuseIfBlocked(
  tx: Tx,
  companyId: number,
  row: TaskRow,
  previous: TaskStatus | null,
): Promise<void> {
  if (row.open_blockers === 0 || row.status === 'todo' || row.status === previous) return;
  const seen = await links.openBlockersSeen(tx, companyId, row.id);
  const names = seen.map((task) => `${task.ref} ${task.title}`);
  const hidden = row.open_blockers - seen.length;
  if (hidden > 0) names.push(`${hidden} task${hidden === 1 ? '' : 's'} you cannot see`);
  throw new HttpError(409, { detail: `Blocked by ${names.join(', ')}` });
}

/**
 * A workflow status change that would put blocked tasks in an in_progress or done category is
 * refused as their own move would be, naming them (the first few). The rows are locked, as in
 * refuseIfBlocked.
 */
export function refuseIfAnyBlocked(rows: readonly TaskRow[], category: TaskStatus): void {
  const blocked = rows.filter((row) => row.open_blockers > 0 && category !== 'todo' && row.status !== category);
  if (blocked.length === 0) return;
  const named = blocked.slice(0, 3).map((row) => `${row.project_key}-${row.number} ${row.title}`);
  const more = blocked.length - named.length;
  if (more > 0) named.push(`${more} more`);
  throw new HttpError(409, {
    detail: `Blocked tasks cannot move to ${category}: ${named.join(', ')}. Finish their blockers or move them first.`,
  });
}

/**
 * The tasks waiting for ones whose done-ness changed (all done now, or all reopened) whose
 * is_blocked flipped: those whose last open blockers they were, or which waited for nothing
 * else. Read in the company's view: they may be in projects the writer does not see.
 */
export async function waitersFlipped(
  tx: Tx,
  companyId: number,
  actorId: number,
  changed: readonly number[],
  nowDone: boolean,
): Promise<BlockFlip[]> {
  const waiting = await withoutUser(tx, async () => {
    const among = await links.blockersAmong(tx, companyId, changed);
    const heads = await reads.findTaskHeads(tx, companyId, [...among.keys()]);
    return [...heads.values()].filter(({ head, openBlockers }) => openBlockers === (nowDone ? 0 : among.get(head.id)));
  });
  return waiting.map(({ head }) => ({ companyId, actorId, task: head, isBlocked: !nowDone }));
}

/**
 * The parents whose subtasks counts writes changed (a child added, removed or moved, or done or
 * reopened), told again with the counts before and after; in the company's view, as for waiters.
 */
export async function parentsRecounted(
  tx: Tx,
  companyId: number,
  actorId: number,
  pairs: ReadonlyArray<{ before: TaskRow | null; after: TaskRow | null }>,
): Promise<TaskWrite[]> {
  const changes = new Map<number, { total: number; done: number }>();
  const add = (parent: number | null, total: number, done: number) => {
    if (parent === null || (total === 0 && done === 0)) return;
    const change = changes.get(parent) ?? { total: 0, done: 0 };
    changes.set(parent, { total: change.total + total, done: change.done + done });
  };
  for (const { before, after } of pairs) {
    const was = { parent: before?.parent_id ?? null, done: before?.status === 'done' ? 1 : 0 };
    const now = { parent: after?.parent_id ?? null, done: after?.status === 'done' ? 1 : 0 };
    if (was.parent === now.parent) {
      add(now.parent, 0, now.done - was.done);
    } else {
      add(was.parent, -1, -was.done);
      add(now.parent, 1, now.done);
    }
  }
  if (changes.size === 0) return [];
  const parents = await links.readShared(tx, companyId, () => links.rowsByIds(tx, companyId, [...changes.keys()]));
  return parents.map(({ task }): TaskWrite => {
    const change = changes.get(task.id) ?? { total: 0, done: 0 };
    const subtasks = { total: task.subtasks.total - change.total, done: task.subtasks.done - change.done };
    return { kind: 'updated', companyId, actorId, before: { ...task, subtasks }, after: task };
  });
}
