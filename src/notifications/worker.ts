import { Batcher } from '../platform/batcher.ts';
import type { AppConfig } from '../platform/config.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import type { Job, Jobs, JobsLogger } from '../platform/jobs/index.ts';
import {
  type DueCursor,
  type DueTask,
  openTasksOf,
  type TaskFacts,
  unsafeOpenTasksDueWithin,
  unsafeWithOpenTasks,
} from '../tasks/reads.ts';
import { QUEUES, type RecordJob, type SendJob } from './jobs.ts';
import { DeliveryUnconfirmed, type Email, type Mailer } from './mailer.ts';
import * as q from './queries.ts';
import type { NotificationsService } from './service.ts';
import { renderEmail, subjectFor } from './templates.ts';

export interface WorkerLogger extends JobsLogger {
  info(details: object, message: string): void;
}

/**
 * What else the reminder scan does with the tasks due soon, in its transaction (the inbox's
 * `due_soon` items): what to run once it commits comes back.
 */
export interface DueSoonListener {
  recordDueSoon(tx: Tx, due: readonly DueTask[]): Promise<() => Promise<void>>;
}

/** A change was folded into the email after it was rendered: render it again. */
class StaleRender extends Error {}

interface Rendered {
  id: number;
  revision: number;
  /** Writes the end of the message: called as the hand-over mark's COMMIT goes out. */
  complete: () => void;
}

/**
 * Hand-over marks, many emails of a company to one transaction. Of two attempts at one email in
 * a batch, only the first may finish its message.
 */
async function handOverMany(db: Database, companyId: number, rendered: Rendered[]): Promise<boolean[]> {
  let won = rendered.map(() => false);
  await q.markManyHandedOver(db, companyId, rendered, (marked) => {
    const given = new Set<number>();
    won = rendered.map(({ id, complete }) => {
      if (!marked.has(id) || given.has(id)) return false;
      given.add(id);
      complete();
      return true;
    });
  });
  return won;
}

type Prepared = { email: Email; revision: number } | 'done';

const DUE_SOON_HOURS = 24;
const SCAN_BATCH = 1000;
/** The most records one round trip of the sends reads or writes. */
const BATCH = 100;

/** The domain of the sender address, for Message-IDs that are ours. */
const senderDomain = (from: string) => /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'localhost';

/**
 * What the workers do: send the emails recorded by task writes, and the scheduled scans that
 * record reminders and digests.
 */
export class NotificationWorker {
  constructor(
    private readonly db: Database,
    private readonly jobs: Jobs,
    private readonly notifications: NotificationsService,
    private readonly mailer: Mailer,
    private readonly config: AppConfig,
    private readonly log: WorkerLogger,
    private readonly dueSoon: readonly DueSoonListener[] = [],
  ) {
    // Many sends run at once: their round trips to the database go in shared batches per company.
    this.reads = new Batcher(async (companyId, ids) => {
      const found = await q.readManyForSending(db, companyId, ids);
      return ids.map((id) => found.get(id));
    }, BATCH);
    this.handOvers = new Batcher((companyId, rendered) => handOverMany(db, companyId, rendered), BATCH);
    this.sent = new Batcher(async (companyId, answers) => {
      await q.markManySent(db, companyId, answers);
      return answers.map(() => undefined);
    }, BATCH);
  }

  private readonly reads: Batcher<number, number, q.SendingContext | undefined>;
  private readonly handOvers: Batcher<number, Rendered, boolean>;
  private readonly sent: Batcher<number, [number, string], undefined>;

  /** Starts working the queues in this process and registers the schedules (once across workers). */
  async start(): Promise<void> {
    // Sends wait on SMTP round trips, so several run at once; the scans are sequential by nature.
    // pg-boss's fetch sorts every due job of the queue, whatever it takes, so it takes many at once.
    await this.jobs.work<SendJob>(QUEUES.send, (job) => this.send(job), {
      batchSize: 100,
      concurrency: 20,
      pollingIntervalSeconds: 0.2,
    });
    await this.jobs.work<RecordJob>(QUEUES.record, (job) => this.notifications.recordLater(job.data));
    await this.jobs.work(QUEUES.dueSoon, () => this.scanDueSoon());
    await this.jobs.work(QUEUES.digest, () => this.recordDigests());
    await this.jobs.schedule(QUEUES.dueSoon, '* * * * *');
    await this.jobs.schedule(QUEUES.digest, '0 8 * * *');
  }

  messageId(companyId: number, notificationId: number): string {
    return `notification-${companyId}-${notificationId}@${senderDomain(this.config.emailFrom)}`;
  }

  /**
   * One attempt at one email. A record already sent, or handed over by a worker that died before
   * recording it, is not sent again; one no longer relevant (task gone, reassigned, recipient
   * removed) is dropped. A failure is recorded and rethrown, so the queue retries with backoff;
   * the last attempt leaves it failed.
   */
  async send(job: Job<SendJob>): Promise<void> {
    const { companyId, notificationId } = job.data;
    const final = job.retryCount >= job.retryLimit;
    for (;;) {
      const prepared = await this.prepare(companyId, notificationId);
      if (prepared === 'done') return;
      try {
        const delivered = await this.mailer.deliver(prepared.email, async (complete) => {
          const rendered = { id: notificationId, revision: prepared.revision, complete };
          if (!(await this.handOvers.submit(companyId, rendered))) throw new StaleRender();
        });
        // The job completes only once this commits; until then the hand-over mark keeps it from going twice.
        await this.sent.submit(companyId, [notificationId, delivered.response]);
        return;
      } catch (error) {
        if (error instanceof StaleRender) continue;
        if (error instanceof DeliveryUnconfirmed) {
          // Sending again could deliver it twice; the server most likely has it.
          this.log.warn({ err: error, notification: notificationId }, 'email handed over, answer lost');
          await this.db.tenant(companyId, (tx) => q.markSent(tx, companyId, notificationId, error.message));
          return;
        }
        const message = error instanceof Error ? error.message : String(error);
        await this.db.tenant(companyId, (tx) => q.markAttemptFailed(tx, companyId, notificationId, message, final));
        throw error;
      }
    }
  }

  /** Reads the record and all its email needs in one round trip; writes only when something changed. */
  private async prepare(companyId: number, id: number): Promise<Prepared> {
    const context = await this.reads.submit(companyId, id);
    if (context === undefined || context.notification.status === 'sent') return 'done';
    const { notification: row, recipient, task } = context;
    const handedOverAt = row.handedOverAt;
    if (handedOverAt !== null) {
      await this.db.tenant(companyId, (tx) =>
        q.markSent(tx, companyId, id, 'handed over by an earlier attempt; not sent again', handedOverAt),
      );
      return 'done';
    }
    if (recipient === undefined || !recipient.isActive || !this.stillRelevant(row, task)) {
      await this.db.tenant(companyId, (tx) => q.deleteNotification(tx, companyId, id));
      return 'done';
    }
    const tasks =
      row.kind === 'digest'
        ? // In the recipient's name: row-level security leaves out the tasks of projects they do not see.
          await this.db.tenant({ companyId, userId: row.recipientId }, (tx) =>
            openTasksOf(tx, companyId, row.recipientId),
          )
        : [];
    const subject = row.kind === 'digest' ? row.subject : subjectFor(row.kind, task?.title ?? '');
    const rendered = renderEmail(
      {
        kind: row.kind,
        recipientName: recipient.name,
        actorName: context.actorName,
        companyName: context.companyName,
        task: task ?? null,
        tasks,
        publicUrl: this.config.publicUrl,
        now: new Date(),
        // Each comment folded in bumped the record's revision.
        comments: row.revision + 1,
      },
      subject,
    );
    if (subject !== row.subject || recipient.email !== row.recipient || row.status !== 'pending') {
      await this.db.tenant(companyId, (tx) =>
        q.prepareAttempt(tx, companyId, id, { subject, recipient: recipient.email }),
      );
    }
    return {
      revision: row.revision,
      email: {
        from: this.config.emailFrom,
        to: recipient.email,
        ...rendered,
        messageId: this.messageId(companyId, id),
      },
    };
  }

  /** Whether the email still says something true when it is about to go. */
  private stillRelevant(row: q.NotificationRow, task: TaskFacts | undefined): boolean {
    switch (row.kind) {
      case 'digest':
        return true;
      case 'assigned':
      case 'unblocked':
        return task !== undefined && task.assignedTo === row.recipientId;
      case 'status_changed':
      case 'mentioned':
      case 'commented':
        return task !== undefined;
      case 'due_soon':
        return (
          task !== undefined &&
          task.status !== 'done' &&
          task.assignedTo === row.recipientId &&
          task.dueDate?.getTime() === row.dueDate?.getTime()
        );
    }
  }

  /**
   * Reminders for tasks due within a day, once per task and due date, in batches: the emails, and
   * what the listeners record in the same transaction (inbox items).
   */
  async scanDueSoon(): Promise<number> {
    let recorded = 0;
    let after: DueCursor | undefined;
    for (;;) {
      const page = await this.db.unsafeSystem(async (tx) => {
        const due = await unsafeOpenTasksDueWithin(tx, DUE_SOON_HOURS, SCAN_BATCH, after);
        const created = await q.unsafeRecordDueSoon(tx, due, (title) => subjectFor('due_soon', title));
        for (const row of created) {
          await this.notifications.enqueueSend(tx, { companyId: row.companyId, notificationId: row.id });
        }
        const told = [];
        for (const listener of this.dueSoon) told.push(await listener.recordDueSoon(tx, due));
        return { due, created: created.length, told };
      });
      for (const tell of page.told) await tell();
      recorded += page.created;
      after = page.due.at(-1);
      if (page.due.length < SCAN_BATCH) break;
    }
    if (recorded > 0) this.log.info({ recorded }, 'due-soon reminders recorded');
    return recorded;
  }

  /** Today's digests (UTC), one per person who wants one and has open tasks. */
  async recordDigests(now = new Date()): Promise<number> {
    const day = now.toISOString().slice(0, 10);
    const created = await this.db.unsafeSystem(async (tx) => {
      const people = await unsafeWithOpenTasks(tx, await q.unsafeDigestRecipients(tx));
      const rows = await q.unsafeRecordDigests(tx, people, day, subjectFor('digest', '', day));
      for (const row of rows) {
        await this.notifications.enqueueSend(tx, { companyId: row.companyId, notificationId: row.id });
      }
      return rows.length;
    });
    this.log.info({ day, digests: created }, 'daily digests recorded');
    return created;
  }
}
