import type { UserRow } from '../accounts/queries.ts';
import { activeUsersNamed, requireActor, usersByIds } from '../accounts/service.ts';
import type { Auth } from '../platform/auth.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { invalid, notFound, permissionDenied } from '../platform/errors.ts';
import type { PageRequest } from '../platform/pagination.ts';
import { archivedConflict } from '../projects/access.ts';
import { usersSeeingProject } from '../projects/service.ts';
import { requireTask } from '../tasks/service.ts';
import type { CommentedTask, CommentWrite, CommentWriteListener } from './hooks.ts';
import * as q from './queries.ts';
import type { Comment, CommentBody } from './schemas.ts';

/**
 * `@name` where the name is a username's characters (letters, digits, _ . @ + -) not preceded by
 * one of them (so an email address mentions nobody). A name may end a sentence: "@ana." names ana
 * when there is no user "ana.", so each candidate is also tried without trailing dots.
 */
const MENTION = /(?<![\p{L}\p{N}_.@+-])@([\p{L}\p{N}_.@+-]{1,150})/gu;
/** More names than this in one comment are left as text. */
const MAX_MENTIONS = 50;

export function mentionedNames(body: string): string[] {
  const names = new Set<string>();
  for (const match of body.matchAll(MENTION)) {
    const name = (match[1] as string).toLowerCase();
    names.add(name);
    const trimmed = name.replace(/[.]+$/, '');
    if (trimmed !== '' && trimmed !== name) names.add(trimmed);
    if (names.size >= MAX_MENTIONS * 2) break;
  }
  return [...names];
}

function toComment(row: q.CommentRow, author: UserRow | undefined): Comment {
  return {
    id: row.id,
    task: row.taskId,
    author: {
      id: row.authorId,
      username: author?.username ?? '',
      first_name: author?.firstName ?? '',
      last_name: author?.lastName ?? '',
    },
    body: row.body,
    mentions: row.mentions,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    edited: row.edited,
  };
}

const blank = () => invalid({ body: ['This field may not be blank.'] });

export class CommentsService {
  constructor(
    private readonly db: Database,
    private readonly listeners: readonly CommentWriteListener[] = [],
  ) {}

  /**
   * The ids of the users a body names who see the task, ascending. Every name goes through the
   * same two statements whether it is a user or not, a colleague who sees the task or not: the
   * answer (and the time it takes) tells nothing about names that are not mentions.
   */
  private async mentions(tx: Tx, companyId: number, projectId: number, body: string): Promise<number[]> {
    const named = await activeUsersNamed(tx, companyId, mentionedNames(body));
    const seeing = await usersSeeingProject(
      tx,
      companyId,
      projectId,
      named.map((u) => u.id),
    );
    return [...seeing].sort((a, b) => a - b).slice(0, MAX_MENTIONS);
  }

  /** Each listener's part in the transaction; what runs after the commit comes back. */
  private async written(tx: Tx, write: CommentWrite): Promise<() => Promise<void>> {
    for (const listener of this.listeners) await listener.commentInTransaction?.(tx, write);
    return async () => {
      for (const listener of this.listeners) await listener.commentCommitted?.(write);
    };
  }

  list(auth: Auth, taskId: number, page: PageRequest): Promise<{ count: number; comments: Comment[] }> {
    return this.db.tenant(auth, async (tx) => {
      await requireTask(tx, auth, taskId, 'read');
      const total = await q.countComments(tx, auth.companyId, taskId);
      const rows = await q.listComments(tx, auth.companyId, taskId, page.size, page.offset);
      const authors = await usersByIds(tx, auth.companyId, [...new Set(rows.map((r) => r.authorId))]);
      return { count: total, comments: rows.map((row) => toComment(row, authors.get(row.authorId))) };
    });
  }

  /** Anyone who sees the task comments, viewers too; not in an archived project. */
  async create(auth: Auth, taskId: number, body: CommentBody): Promise<Comment> {
    if (body.body.trim() === '') throw blank();
    const { comment, after } = await this.db.tenant(auth, async (tx) => {
      const actor = await requireActor(tx, auth);
      const { task, access } = await requireTask(tx, auth, taskId, 'read', { actor });
      if (access.project.archived) throw archivedConflict();
      const mentions = await this.mentions(tx, auth.companyId, task.project, body.body);
      const row = await q.insertComment(tx, {
        companyId: auth.companyId,
        taskId,
        authorId: actor.id,
        body: body.body,
        mentions,
      });
      const comment = toComment(row, actor);
      const after = await this.written(tx, {
        kind: 'created',
        companyId: auth.companyId,
        actorId: actor.id,
        task: commentedTask(task),
        comment,
        newlyMentioned: mentions,
      });
      return { comment, after };
    });
    await after();
    return comment;
  }

  /** Its author only (403 for anyone else who sees it); marks it edited. */
  async update(auth: Auth, taskId: number, id: number, body: CommentBody): Promise<Comment> {
    if (body.body.trim() === '') throw blank();
    const { comment, after } = await this.db.tenant(auth, async (tx) => {
      const actor = await requireActor(tx, auth);
      const { task, access } = await requireTask(tx, auth, taskId, 'read', { actor });
      const current = await q.findComment(tx, auth.companyId, taskId, id);
      if (current === undefined) throw notFound();
      if (current.authorId !== actor.id) throw permissionDenied('Only its author can change a comment.');
      if (access.project.archived) throw archivedConflict();
      const mentions = await this.mentions(tx, auth.companyId, task.project, body.body);
      const row = await q.updateComment(tx, auth.companyId, id, { body: body.body, mentions });
      const comment = toComment(row, actor);
      const after = await this.written(tx, {
        kind: 'updated',
        companyId: auth.companyId,
        actorId: actor.id,
        task: commentedTask(task),
        comment,
        newlyMentioned: mentions.filter((m) => !current.mentions.includes(m)),
      });
      return { comment, after };
    });
    await after();
    return comment;
  }

  /** Its author, company admins and the project's managers (403 for others who see it). */
  async delete(auth: Auth, taskId: number, id: number): Promise<void> {
    const after = await this.db.tenant(auth, async (tx) => {
      const actor = await requireActor(tx, auth);
      const { task, access } = await requireTask(tx, auth, taskId, 'read', { actor });
      const current = await q.findComment(tx, auth.companyId, taskId, id);
      if (current === undefined) throw notFound();
      if (current.authorId !== actor.id && access.role !== 'manager') {
        throw permissionDenied('Only its author or a manager of the project can delete a comment.');
      }
      if (access.project.archived) throw archivedConflict();
      const author =
        current.authorId === actor.id
          ? actor
          : (await usersByIds(tx, auth.companyId, [current.authorId])).get(current.authorId);
      await q.deleteComment(tx, auth.companyId, id);
      return this.written(tx, {
        kind: 'deleted',
        companyId: auth.companyId,
        actorId: actor.id,
        task: commentedTask(task),
        comment: toComment(current, author),
        newlyMentioned: [],
      });
    });
    await after();
  }
}

const commentedTask = (task: { id: number; project: number; ref: string; title: string }): CommentedTask => ({
  id: task.id,
  project: task.project,
  ref: task.ref,
  title: task.title,
});
