import type { Tx } from '../platform/db/index.ts';
import type { Task } from './schemas.ts';

/** One task write, as the listeners hear of it. */
export interface TaskWrite {
  kind: 'created' | 'updated' | 'deleted';
  companyId: number;
  actorId: number;
  /** null for a creation. */
  before: Task | null;
  /** null for a deletion. */
  after: Task | null;
}

/**
 * What other features do around a task write (notifications, live updates, and next the inbox,
 * dependency announcements, project visibility), so that tasks imports none of them. The service
 * calls every listener, in the order given, for each write that changed something.
 */
export interface TaskWriteListener {
  /**
   * Inside the write's transaction, after the row and its history: whatever this records or
   * enqueues commits or rolls back with the write, and a throw fails the request.
   */
  inTransaction?(tx: Tx, write: TaskWrite): Promise<void>;
  /** Once the transaction has committed: what others may see only then (events to sockets). */
  afterCommit?(write: TaskWrite): Promise<void>;
}
