import type { Tx } from '../platform/db/index.ts';
import type { Task } from './schemas.ts';

/**
 * One task write, as the listeners hear of it: the task as everyone who sees its project may be
 * told of it (mapping.ts' sharedTask: its links within that project only). A write also changes
 * tasks it is linked to (a deleted task's waiting tasks and subtasks; a parent's subtasks counts):
 * each is one more write; those waiting for a task done or reopened are BlockFlips.
 */
export interface TaskWrite {
  kind: 'created' | 'updated' | 'deleted';
  companyId: number;
  actorId: number;
  /** null for a creation. */
  before: Task | null;
  /** null for a deletion. */
  after: Task | null;
}

/** What the listeners decide on of a task that a BlockFlip names, read in the writes' transaction. */
export type TaskHead = Pick<Task, 'id' | 'project' | 'title' | 'status' | 'state' | 'assigned_to' | 'created_by'>;

/**
 * A task told again only because what it waits for changed, not its own row: its last open
 * blocker done (or a done one reopened), so that is_blocked flipped. A hub task done flips
 * thousands at once, so the transaction reads only their heads; once it has committed, each is
 * read whole and heard by afterCommit as an update among the writes.
 */
export interface BlockFlip {
  companyId: number;
  actorId: number;
  task: TaskHead;
  /** is_blocked now: the opposite of before the write. */
  isBlocked: boolean;
}

/**
 * What other features do around task writes (notifications, live updates, and next the inbox,
 * project visibility), so that tasks imports none of them. The service
 * calls every listener, in the order given, with the writes of one transaction that changed
 * something: one for a request on one task, many for a change that moves many at once (a workflow
 * status's category changed or the status deleted), which a listener handles in a bounded number
 * of statements and messages, never one round trip per task.
 */
export interface TaskWriteListener {
  /**
   * Inside the writes' transaction, after the rows and their history: whatever this records or
   * enqueues commits or rolls back with the writes, and a throw fails the request. `flips`: the
   * tasks whose is_blocked the writes flipped (BlockFlip), none of them among `writes`.
   */
  inTransaction?(tx: Tx, writes: readonly TaskWrite[], flips: readonly BlockFlip[]): Promise<void>;
  /**
   * For a creation that concerns its creator alone (assigned to nobody or to them, with no labels,
   * no links: tasks/service.ts' `soleCreation`): this listener's whole part in the transaction,
   * instead of inTransaction, as a data-modifying statement that becomes a CTE of the creating
   * statement, reading the new task from the CTE named by `created` (a row of tasks); null when
   * it has nothing to do for one. Such a creation is written in one statement only when every
   * listener with an inTransaction has this too.
   */
  soleCreationSql?(created: string): string | null;
  /**
   * Once the transaction has committed: what others may see only then (events to sockets). The
   * same list as inTransaction's, each flip added at its end as an update, read whole once the
   * transaction had committed (as it is then; one deleted since is left out). The
   * request does not wait for it (unless too many are waiting: TasksService's pendingLimit); a
   * company's writes are heard here one at a time, in commit order.
   */
  afterCommit?(writes: readonly TaskWrite[]): Promise<void>;
}
