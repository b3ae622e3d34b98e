import type { AppConfig } from '../platform/config.ts';
import type { Jobs } from '../platform/jobs/index.ts';
import type { ChangeNotice } from './queries.ts';

export const QUEUES = {
  send: 'notification-send',
  record: 'notification-record',
  dueSoon: 'notification-due-soon',
  digest: 'notification-digest',
} as const;

/** Five attempts in all, the first included. */
export const SEND_ATTEMPTS = 5;

export interface SendJob {
  companyId: number;
  notificationId: number;
}

/**
 * The emails of a write that concerns too many people to record them in its own transaction
 * (NotificationsService.notify), recorded by a job once it has committed.
 */
export interface RecordJob {
  companyId: number;
  /** Which pending emails the notices fold into: those about task changes, or those about comments. */
  fold: 'changes' | 'comments';
  /**
   * Each actor's notices of each kind, as [task, recipient] pairs laid end to end: tens of
   * kilobytes for thousands, where objects with the tasks' titles made their insert five times
   * slower. The job reads the tasks' projects and titles as they are when it runs.
   */
  notices: Array<{ actor: number; kind: ChangeNotice['kind']; pairs: number[] }>;
}

/** Every process creates the queues at start; the code's settings are the ones that count. */
export async function createNotificationQueues(
  jobs: Jobs,
  config: Pick<AppConfig, 'notificationRetryDelaySeconds' | 'notificationSendTimeoutSeconds'>,
): Promise<void> {
  await jobs.createQueue(QUEUES.send, {
    retryLimit: SEND_ATTEMPTS - 1,
    retryDelaySeconds: config.notificationRetryDelaySeconds,
    // pg-boss's backoff waits at least a second; a delay of 0 means retrying at once.
    retryBackoff: config.notificationRetryDelaySeconds > 0,
    // A send takes seconds at most; one still active after this lost its worker and is retried.
    expireInSeconds: config.notificationSendTimeoutSeconds,
  });
  // Folding makes a repeated job record nothing twice: at most it counts a revision more.
  await jobs.createQueue(QUEUES.record, { retryLimit: 4, retryDelaySeconds: 10, expireInSeconds: 5 * 60 });
  // The scans are idempotent (unique indexes), so a repeated run adds nothing.
  for (const queue of [QUEUES.dueSoon, QUEUES.digest]) {
    await jobs.createQueue(queue, { retryLimit: 2, retryDelaySeconds: 30, expireInSeconds: 10 * 60 });
  }
}
