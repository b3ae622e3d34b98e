import type { Tx } from '../platform/db/index.ts';
import type { Jobs } from '../platform/jobs/index.ts';

export const QUEUES = {
  /** Removes the bytes of deleted attachments and of uploads whose process died before recording them. */
  collect: 'attachments-collect',
} as const;

/** An upload still unrecorded after this long lost its process (uploads are cut at 30 s by requestTimeout). */
export const STALE_UPLOAD_SECONDS = 60 * 60;

/** Every process creates the queues at start; the code's settings are the ones that count. */
export async function createAttachmentQueues(jobs: Jobs): Promise<void> {
  // Idempotent: a key removed twice is no error, so retries and overlapping runs are safe.
  await jobs.createQueue(QUEUES.collect, { retryLimit: 5, retryDelaySeconds: 30, retryBackoff: true });
}

/** In the deleting transaction: the collection runs once it has committed, and only if it does. */
export const collectAfterCommit = (jobs: Jobs, tx: Tx) => jobs.send(tx, QUEUES.collect, {});
