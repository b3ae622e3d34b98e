import type { Database } from '../platform/db/index.ts';
import type { Jobs } from '../platform/jobs/index.ts';
import { QUEUES, STALE_UPLOAD_SECONDS } from './jobs.ts';
import * as q from './queries.ts';
import type { Storage } from './storage/index.ts';

const BATCH = 200;

export interface Collected {
  deleted: number;
  orphans: number;
}

/**
 * Removes stored bytes that no attachment row names any more: those of deleted attachments (queued
 * by trigger in the deleting transaction, so only once it has committed), and those of uploads
 * whose process died between storing the bytes and recording them. Bytes first, then the row that
 * names them, so a crash in between only means doing it again.
 */
export class AttachmentsWorker {
  constructor(
    private readonly db: Database,
    private readonly jobs: Jobs,
    private readonly storage: Storage,
    private readonly log: { info(details: object, message: string): void },
  ) {}

  async start(): Promise<void> {
    await this.jobs.work(QUEUES.collect, () => this.collect());
    await this.jobs.schedule(QUEUES.collect, '*/10 * * * *');
  }

  async collect(staleBefore = new Date(Date.now() - STALE_UPLOAD_SECONDS * 1000)): Promise<Collected> {
    const collected = { deleted: 0, orphans: 0 };
    for (;;) {
      const garbage = await this.db.unsafeSystem((tx) => q.unsafeGarbage(tx, BATCH));
      for (const key of garbage) {
        await this.storage.delete(key.storageKey);
        await this.db.unsafeSystem((tx) => q.unsafeForgetGarbage(tx, key));
      }
      collected.deleted += garbage.length;
      if (garbage.length < BATCH) break;
    }
    for (;;) {
      const stale = await this.db.unsafeSystem((tx) => q.unsafeStaleUploads(tx, staleBefore, BATCH));
      for (const key of stale) {
        await this.storage.delete(key.storageKey);
        await this.db.unsafeSystem((tx) => q.deleteUpload(tx, key.companyId, key.storageKey));
      }
      collected.orphans += stale.length;
      if (stale.length < BATCH) break;
    }
    if (collected.deleted + collected.orphans > 0) this.log.info(collected, 'attachment bytes collected');
    return collected;
  }
}
