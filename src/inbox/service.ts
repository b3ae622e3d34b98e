import { requireActor } from '../accounts/service.ts';
import type { CommentWrite, CommentWriteListener } from '../comments/hooks.ts';
import type { Auth } from '../platform/auth.ts';
import { type Database, type Tx, withoutUser } from '../platform/db/index.ts';
import type { InboxKind } from '../platform/db/schema.ts';
import { notFound } from '../platform/errors.ts';
import type { PageRequest } from '../platform/pagination.ts';
import { archivedConflict } from '../projects/access.ts';
import type { BlockFlip, TaskWrite, TaskWriteListener } from '../tasks/hooks.ts';
import type { DueTask } from '../tasks/reads.ts';
import { requireTask } from '../tasks/service.ts';
import type { InboxEvents } from './hooks.ts';
import * as q from './queries.ts';
import type { InboxItem } from './schemas.ts';

const iso = (text: string | Date) => new Date(text).toISOString();

function toItem(row: q.ItemRow): InboxItem {
  return {
    id: row.id,
    kind: row.kind,
    task: { id: row.taskId, ref: row.ref, title: row.title },
    actor: row.actorId === null ? null : { id: row.actorId, username: row.actorUsername ?? '' },
    created_at: iso(row.createdAt),
    read_at: row.readAt === null ? null : iso(row.readAt),
  };
}

/** Who watches a task, whoever the caller is: for the emails about its comments. */
export async function watchersOfTask(tx: Tx, companyId: number, taskId: number): Promise<number[]> {
  return (await withoutUser(tx, () => q.watchersOf(tx, companyId, [taskId]))).map((w) => w.userId);
}

type Made = Array<{ userId: number; item: InboxItem }>;

/** Of two reasons to tell one person of one write, the one kept: the first in this list. */
const KIND_ORDER: readonly InboxKind[] = ['assigned', 'mentioned', 'unblocked', 'commented', 'status_changed'];

/** One item per person and task from the reasons given, never for the actor. */
function itemsOf(reasons: ReadonlyArray<q.NewItem>): q.NewItem[] {
  const kept = new Map<string, q.NewItem>();
  for (const reason of reasons) {
    if (reason.userId === reason.actorId) continue;
    const key = `${reason.userId}:${reason.taskId}`;
    const other = kept.get(key);
    if (other === undefined || KIND_ORDER.indexOf(reason.kind) < KIND_ORDER.indexOf(other.kind)) kept.set(key, reason);
  }
  return [...kept.values()];
}

/**
 * The caller's inbox and the watching of tasks. Items are recorded in the transaction of the write
 * that causes them (task writes through TaskWriteListener, comments through CommentWriteListener,
 * reminders from the notifications' scan), for recipients who see the task, and told to their
 * sockets once it commits.
 */
export class InboxService implements TaskWriteListener, CommentWriteListener {
  /** The items a comment's transaction recorded, until its commit is heard (the same object is handed to both calls). */
  private readonly made = new WeakMap<object, Made>();
  /**
   * The ids of the items task writes recorded, until their commit is heard: read for their
   * recipients' sockets only then, off the answer's path (a hub task done makes thousands).
   */
  private readonly madeIds = new WeakMap<object, number[]>();

  constructor(
    private readonly db: Database,
    private readonly events: InboxEvents,
  ) {}

  /**
   * Watches, then items, in the company's view (others' rows); three statements for any number of
   * writes. `watchedTasks`: the tasks whose watchers the reasons need. The common write that
   * concerns only its actor (creating a task for nobody else) costs one statement. The ids of the
   * items recorded come back.
   */
  private async record(
    tx: Tx,
    companyId: number,
    actorId: number,
    watches: q.Watch[],
    reasons: (watchers: Map<number, number[]>) => q.NewItem[],
    watchedTasks: number[],
  ): Promise<number[]> {
    if (watchedTasks.length === 0 && watches.every((w) => w.userId === actorId) && reasons(new Map()).length === 0) {
      // The actor's own rows, of a task they see: their own view will do.
      await q.addWatchers(tx, companyId, watches);
      return [];
    }
    return withoutUser(tx, async () => {
      const watchers = new Map<number, number[]>();
      for (const { taskId, userId } of await q.watchersOf(tx, companyId, watchedTasks)) {
        watchers.set(taskId, [...(watchers.get(taskId) ?? []), userId]);
      }
      await q.addWatchers(tx, companyId, watches);
      return q.insertItems(tx, companyId, itemsOf(reasons(watchers)));
    });
  }

  /** Items by id as their recipients' sockets are told of them; read in the company's view. */
  private async pushes(tx: Tx, companyId: number, ids: number[]): Promise<Made> {
    return (await q.itemsByIds(tx, companyId, ids)).map((row) => ({ userId: row.userId, item: toItem(row) }));
  }

  private async tell(companyId: number, made: Made | undefined): Promise<void> {
    if (made !== undefined && made.length > 0) await this.events.inboxItems(companyId, made);
  }

  /**
   * A creation: its creator and assignee watch it. A new assignee gets `assigned` and watches; the
   * assignee of a task that waits for nothing any more `unblocked`; the watchers of a task whose
   * state changed `status_changed`.
   */
  async inTransaction(tx: Tx, writes: readonly TaskWrite[], flips: readonly BlockFlip[] = []): Promise<void> {
    const live = writes.filter((w) => w.after !== null);
    const first = live[0] ?? flips[0];
    if (first === undefined) return;
    const { companyId } = first;
    const watches: q.Watch[] = [];
    const moved: TaskWrite[] = [];
    for (const write of live) {
      const { actorId, before } = write;
      const after = write.after as NonNullable<TaskWrite['after']>;
      const at = { taskId: after.id, projectId: after.project };
      if (before === null) watches.push({ ...at, userId: actorId });
      if (after.assigned_to !== null && after.assigned_to !== (before?.assigned_to ?? null)) {
        watches.push({ ...at, userId: after.assigned_to });
      }
      if (before !== null && before.state !== after.state) moved.push(write);
    }
    const item = (task: { id: number; project: number }, actorId: number, userId: number, kind: InboxKind) => ({
      userId,
      kind,
      taskId: task.id,
      projectId: task.project,
      actorId,
    });
    const ids = await this.record(
      tx,
      companyId,
      first.actorId,
      watches,
      (watchers) => [
        ...live.flatMap(({ actorId, before, after }) => {
          const task = after as NonNullable<TaskWrite['after']>;
          const reasons: q.NewItem[] = [];
          if (task.assigned_to !== null && task.assigned_to !== (before?.assigned_to ?? null)) {
            reasons.push(item(task, actorId, task.assigned_to, 'assigned'));
          }
          if (task.assigned_to !== null && before?.is_blocked === true && !task.is_blocked) {
            reasons.push(item(task, actorId, task.assigned_to, 'unblocked'));
          }
          if (before !== null && before.state !== task.state) {
            for (const userId of watchers.get(task.id) ?? []) {
              reasons.push(item(task, actorId, userId, 'status_changed'));
            }
          }
          return reasons;
        }),
        ...flips.flatMap(({ actorId, task, isBlocked }) =>
          !isBlocked && task.assigned_to !== null ? [item(task, actorId, task.assigned_to, 'unblocked')] : [],
        ),
      ],
      moved.map((w) => (w.after as NonNullable<TaskWrite['after']>).id),
    );
    this.madeIds.set(writes, ids);
  }

  /** A creation that concerns its creator alone: they watch it, and nobody gets an item. */
  soleCreationSql(created: string): string | null {
    return q.creatorWatchesSql(created);
  }

  async afterCommit(writes: readonly TaskWrite[]): Promise<void> {
    const first = writes[0];
    const ids = this.madeIds.get(writes);
    if (first === undefined || ids === undefined || ids.length === 0) return;
    const { companyId } = first;
    await this.tell(companyId, await this.db.tenant(companyId, (tx) => this.pushes(tx, companyId, ids)));
  }

  /**
   * A comment: its author and the users it newly mentions watch the task; those get `mentioned`,
   * and on a new comment the task's other watchers `commented`.
   */
  async commentInTransaction(tx: Tx, write: CommentWrite): Promise<void> {
    if (write.kind === 'deleted') return;
    const { companyId, actorId, task } = write;
    const at = { taskId: task.id, projectId: task.project };
    const item = (userId: number, kind: InboxKind): q.NewItem => ({ ...at, userId, kind, actorId });
    const ids = await this.record(
      tx,
      companyId,
      actorId,
      [actorId, ...write.newlyMentioned].map((userId) => ({ ...at, userId })),
      (watchers) => [
        ...write.newlyMentioned.map((userId) => item(userId, 'mentioned')),
        ...(write.kind === 'created' ? (watchers.get(task.id) ?? []).map((userId) => item(userId, 'commented')) : []),
      ],
      write.kind === 'created' ? [task.id] : [],
    );
    // A comment's few, read in its transaction: its answer waits for them.
    this.made.set(write, await withoutUser(tx, () => this.pushes(tx, companyId, ids)));
  }

  async commentCommitted(write: CommentWrite): Promise<void> {
    await this.tell(write.companyId, this.made.get(write));
  }

  /**
   * In the reminder scan's transaction (across companies): a `due_soon` item to each assignee who
   * still sees the task, once per due date. What to tell once it commits comes back.
   */
  async recordDueSoon(tx: Tx, due: readonly DueTask[]): Promise<() => Promise<void>> {
    const created = await q.unsafeRecordDueSoon(tx, due);
    const byCompany = new Map<number, number[]>();
    for (const { companyId, id } of created) byCompany.set(companyId, [...(byCompany.get(companyId) ?? []), id]);
    const made = new Map<number, Made>();
    for (const [companyId, ids] of byCompany) {
      made.set(companyId, await this.pushes(tx, companyId, ids));
    }
    return async () => {
      for (const [companyId, items] of made) await this.tell(companyId, items);
    };
  }

  list(auth: Auth, unread: boolean, page: PageRequest): Promise<{ count: number; items: InboxItem[] }> {
    return this.db.tenant(auth, async (tx) => {
      await requireActor(tx, auth);
      const count = await q.countItems(tx, auth.companyId, auth.userId, unread);
      const rows = await q.listItems(tx, auth.companyId, auth.userId, unread, page.size, page.offset);
      return { count, items: rows.map(toItem) };
    });
  }

  unreadCount(auth: Auth): Promise<{ count: number }> {
    return this.db.tenant(auth, async (tx) => {
      await requireActor(tx, auth);
      return { count: await q.countItems(tx, auth.companyId, auth.userId, true) };
    });
  }

  /** One of the caller's items, marked read; anyone else's is a 404. */
  read(auth: Auth, id: number): Promise<InboxItem> {
    return this.db.tenant(auth, async (tx) => {
      await requireActor(tx, auth);
      if (!(await q.markRead(tx, auth.companyId, auth.userId, id))) throw notFound();
      const [row] = await q.itemsByIds(tx, auth.companyId, [id]);
      if (row === undefined) throw notFound();
      return toItem(row);
    });
  }

  readAll(auth: Auth): Promise<void> {
    return this.db.tenant(auth, async (tx) => {
      await requireActor(tx, auth);
      await q.markAllRead(tx, auth.companyId, auth.userId);
    });
  }

  /** Anyone who sees the task may watch it or stop; not in an archived project (409). */
  setWatching(auth: Auth, taskId: number, watching: boolean): Promise<void> {
    return this.db.tenant(auth, async (tx) => {
      const { access } = await requireTask(tx, auth, taskId, 'read');
      if (access.project.archived) throw archivedConflict();
      if (watching) await q.watch(tx, auth.companyId, taskId, auth.userId);
      else await q.unwatch(tx, auth.companyId, taskId, auth.userId);
    });
  }
}
