import type { Tx } from '../platform/db/index.ts';
import type { Comment } from './schemas.ts';

/** The task a comment is on, as those who hear of the comment need it. */
export interface CommentedTask {
  id: number;
  project: number;
  ref: string;
  title: string;
}

/** One comment write, as the listeners hear of it. */
export interface CommentWrite {
  kind: 'created' | 'updated' | 'deleted';
  companyId: number;
  actorId: number;
  task: CommentedTask;
  /** For a deletion, the comment as it was. */
  comment: Comment;
  /** The users this write mentions who were not mentioned before (all of them on creation; none on deletion). */
  newlyMentioned: readonly number[];
}

/**
 * What other features do around comment writes (the inbox, emails, live updates), so that comments
 * imports none of them: the same two moments as tasks' TaskWriteListener. The service hands both
 * calls the same write object.
 */
export interface CommentWriteListener {
  /** Inside the comment's transaction: what this records commits or rolls back with it; a throw fails the request. */
  commentInTransaction?(tx: Tx, write: CommentWrite): Promise<void>;
  /** Once the transaction has committed. */
  commentCommitted?(write: CommentWrite): Promise<void>;
}
