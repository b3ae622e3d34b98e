import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { Tx } from '../platform/db/index.ts';
import { comments } from '../platform/db/schema.ts';

export interface CommentRow {
  id: number;
  taskId: number;
  authorId: number;
  body: string;
  mentions: number[];
  createdAt: Date;
  updatedAt: Date;
  edited: boolean;
}

const commentColumns = {
  id: comments.id,
  taskId: comments.taskId,
  authorId: comments.authorId,
  body: comments.body,
  mentions: comments.mentions,
  createdAt: comments.createdAt,
  updatedAt: comments.updatedAt,
  edited: comments.edited,
};

const ofTask = (companyId: number, taskId: number) =>
  and(eq(comments.companyId, companyId), eq(comments.taskId, taskId));

export async function countComments(tx: Tx, companyId: number, taskId: number): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(comments).where(ofTask(companyId, taskId));
  return row?.n ?? 0;
}

/** Oldest first (comments_task_idx). */
export function listComments(tx: Tx, companyId: number, taskId: number, limit: number, offset: number) {
  return tx
    .select(commentColumns)
    .from(comments)
    .where(ofTask(companyId, taskId))
    .orderBy(asc(comments.id))
    .limit(limit)
    .offset(offset);
}

/** The comment of this task, locked for a change. */
export async function findComment(
  tx: Tx,
  companyId: number,
  taskId: number,
  id: number,
): Promise<CommentRow | undefined> {
  const [row] = await tx
    .select(commentColumns)
    .from(comments)
    .where(and(ofTask(companyId, taskId), eq(comments.id, id)))
    .for('update');
  return row;
}

export async function insertComment(
  tx: Tx,
  values: { companyId: number; taskId: number; authorId: number; body: string; mentions: number[] },
): Promise<CommentRow> {
  const [row] = await tx.insert(comments).values(values).returning(commentColumns);
  if (row === undefined) throw new Error('comment insert returned nothing');
  return row;
}

export async function updateComment(
  tx: Tx,
  companyId: number,
  id: number,
  values: { body: string; mentions: number[] },
): Promise<CommentRow> {
  const [row] = await tx
    .update(comments)
    .set({ ...values, edited: true, updatedAt: sql`now()` })
    .where(and(eq(comments.companyId, companyId), eq(comments.id, id)))
    .returning(commentColumns);
  if (row === undefined) throw new Error('comment update returned nothing');
  return row;
}

export async function deleteComment(tx: Tx, companyId: number, id: number): Promise<void> {
  await tx.delete(comments).where(and(eq(comments.companyId, companyId), eq(comments.id, id)));
}
