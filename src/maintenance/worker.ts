import { unsafePurgeExpired as unsafePurgeExpiredCredentials } from '../accounts/queries.ts';
import type { Database } from '../platform/db/index.ts';
import type { Jobs } from '../platform/jobs/index.ts';
import { unsafeCompactCounters } from '../tasks/counters.ts';
import { unsafePurgeExpiredIdempotencyKeys } from '../tasks/writes.ts';
import { QUEUES } from './jobs.ts';

export interface Purged {
  refreshTokens: number;
  invitations: number;
  idempotencyKeys: number;
  /** Statistics' counter rows folded into others (tasks/counters.ts). */
  counterRows: number;
}

/**
 * Housekeeping across features, on the workers: each feature exports the purge of its own
 * tables, and this runs them on a schedule, once across all workers.
 */
export class MaintenanceWorker {
  constructor(
    private readonly db: Database,
    private readonly jobs: Jobs,
    private readonly log: { info(details: object, message: string): void },
  ) {}

  async start(): Promise<void> {
    await this.jobs.work(QUEUES.purge, () => this.purge());
    await this.jobs.schedule(QUEUES.purge, '17 * * * *');
  }

  /** What has expired and can never be used again, and the statistics' counters folded. */
  async purge(): Promise<Purged> {
    const purged = await this.db.unsafeSystem(async (tx) => ({
      ...(await unsafePurgeExpiredCredentials(tx)),
      idempotencyKeys: await unsafePurgeExpiredIdempotencyKeys(tx),
      counterRows: await unsafeCompactCounters(tx),
    }));
    this.log.info(purged, 'expired tokens, invitations and idempotency keys purged, counters compacted');
    return purged;
  }
}
