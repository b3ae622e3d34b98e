import type { Tx } from '../platform/db/index.ts';
import type { TaskStatus } from '../platform/db/schema.ts';

/**
 * What the projects (and labels) features announce once their writes have committed; realtime
 * implements it, as it implements tasks' TaskWriteListener.
 */
export interface ProjectEvents {
  /** An event about a project or its statuses, for the users who see the project. */
  projectEvent(companyId: number, projectId: number, event: object): Promise<void>;
  /** An event for everyone in the company (labels). */
  companyEvent(companyId: number, event: object): Promise<void>;
  /** Who sees which project changed: for one user, or (no user) for anyone in the company. */
  visibilityChanged(companyId: number, userId?: number): Promise<void>;
}

export const NO_EVENTS: ProjectEvents = {
  projectEvent: async () => {},
  companyEvent: async () => {},
  visibilityChanged: async () => {},
};

/**
 * What a workflow status change does to the tasks in that status: the tasks feature does it (its
 * table, its history, its listeners: live updates and emails), since this feature cannot import it.
 */
export interface StateMoves {
  /**
   * In the status change's transaction: every task in state `from` takes the state `to` and its
   * category (`to` is `from` itself when only its category changed), as an update by `actorId`.
   * Returns what to run once the transaction has committed (announcing them).
   */
  moveTasks(
    tx: Tx,
    companyId: number,
    actorId: number,
    from: number,
    to: { id: number; category: TaskStatus },
  ): Promise<() => Promise<void>>;
}
