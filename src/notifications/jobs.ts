import type { AppConfig } from '../platform/config.ts';
import type { Jobs } from '../platform/jobs/index.ts';

export const QUEUES = {
  send: 'notification-send',
  dueSoon: 'notification-due-soon',
  digest: 'notification-digest',
} as const;

/** Five attempts in all, the first included. */
export const SEND_ATTEMPTS = 5;

export interface SendJob {
  companyId: number;
  notificationId: number;
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
  // The scans are idempotent (unique indexes), so a repeated run adds nothing.
  for (const queue of [QUEUES.dueSoon, QUEUES.digest]) {
    await jobs.createQueue(queue, { retryLimit: 2, retryDelaySeconds: 30, expireInSeconds: 10 * 60 });
  }
}
