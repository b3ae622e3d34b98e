import type { Jobs } from '../platform/jobs/index.ts';

export const QUEUES = {
  purge: 'maintenance-purge',
} as const;

/** Every process creates the queues at start; the code's settings are the ones that count. */
export async function createMaintenanceQueues(jobs: Jobs): Promise<void> {
  // The purge is idempotent, so a repeated run removes nothing more.
  await jobs.createQueue(QUEUES.purge, { retryLimit: 2, retryDelaySeconds: 30, expireInSeconds: 10 * 60 });
}
