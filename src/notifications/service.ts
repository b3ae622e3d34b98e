import type { Column, SQL } from 'drizzle-orm';
import { requireActor } from '../accounts/service.ts';
import type { CommentWrite, CommentWriteListener } from '../comments/hooks.ts';
import { watchersOfTask } from '../inbox/service.ts';
import type { Auth } from '../platform/auth.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { notFound } from '../platform/errors.ts';
import type { Jobs } from '../platform/jobs/index.ts';
import type { PageRequest } from '../platform/pagination.ts';
import { sightsOf } from '../projects/service.ts';
import type { BlockFlip, TaskWrite, TaskWriteListener } from '../tasks/hooks.ts';
import { findTaskHeads, taskSeenSql } from '../tasks/reads.ts';
import { requireTaskRecords } from '../tasks/service.ts';
import { QUEUES, type RecordJob, type SendJob } from './jobs.ts';
import * as q from './queries.ts';
import type { Notification, NotificationListQuery, Preferences, PreferencesBody } from './schemas.ts';
import { subjectFor } from './templates.ts';

/**
 * The most emails a transaction records itself. A write that concerns more (a hub task done, its
 * 5,000 waiting tasks unblocked, each assignee told) enqueues one job with them instead: its
 * answer does not wait for thousands of records and their send jobs, and the job, enqueued in the
 * same transaction, records them once it has committed, as the transaction would have.
 */
export const RECORDED_IN_TRANSACTION = 100;

type Wanted = ReadonlyArray<{
  task: { id: number; project: number; title: string };
  actorId: number;
  recipientId: number;
  kind: q.ChangeNotice['kind'];
}>;

const FOLDS = { changes: q.recordChanges, comments: q.recordComments };

const iso = (value: Date | null) => (value === null ? null : value.toISOString());

function toNotification(row: q.NotificationRow): Notification {
  return {
    id: row.id,
    task: row.taskId,
    recipient: row.recipient,
    subject: row.subject,
    status: row.status,
    scheduled_for: row.scheduledFor.toISOString(),
    sent_at: iso(row.sentAt),
    attempts: row.attempts,
    error: row.error,
    kind: row.kind,
  };
}

const toPreferences = (p: q.Preferences): Preferences => ({
  email_on_assignment: p.emailOnAssignment,
  email_on_status_change: p.emailOnStatusChange,
  daily_digest: p.dailyDigest,
  email_on_unblocked: p.emailOnUnblocked,
  email_on_mention: p.emailOnMention,
  email_on_comment: p.emailOnComment,
});

export class NotificationsService implements TaskWriteListener, CommentWriteListener {
  constructor(
    private readonly db: Database,
    private readonly jobs: Jobs,
    private readonly delaySeconds: number,
  ) {}

  /** A creation that concerns its creator alone: no email, since nobody hears of their own action. */
  soleCreationSql(): null {
    return null;
  }

  /**
   * Inside the transaction of the task writes, so an email is recorded and queued (or, with many,
   * the job that records them) if and only if the change commits. The assignee hears of an
   * assignment or of their task unblocked; the assignee and the author of a status change, if they
   * asked to, and while they see the task's project. Nobody hears of their own action, nor of a
   * deletion. Five statements at most, however many tasks a change wrote.
   */
  async inTransaction(tx: Tx, writes: readonly TaskWrite[], flips: readonly BlockFlip[] = []): Promise<void> {
    const wanted: Array<Wanted[number]> = [];
    for (const { actorId, before, after } of writes) {
      if (after === null) continue;
      const kinds = new Map<number, q.ChangeNotice['kind']>();
      if (after.assigned_to !== null && after.assigned_to !== (before?.assigned_to ?? null)) {
        kinds.set(after.assigned_to, 'assigned');
      }
      // The task waits for nothing any more (its last open blocker deleted or removed).
      if (after.assigned_to !== null && before?.is_blocked === true && !after.is_blocked) {
        if (!kinds.has(after.assigned_to)) kinds.set(after.assigned_to, 'unblocked');
      }
      if (before !== null && before.status !== after.status) {
        for (const id of [after.assigned_to, after.created_by]) {
          if (id !== null && !kinds.has(id)) kinds.set(id, 'status_changed');
        }
      }
      kinds.delete(actorId);
      for (const [recipientId, kind] of kinds) wanted.push({ task: after, actorId, recipientId, kind });
    }
    // Their last open blocker done.
    for (const { actorId, task, isBlocked } of flips) {
      if (isBlocked || task.assigned_to === null || task.assigned_to === actorId) continue;
      wanted.push({ task, actorId, recipientId: task.assigned_to, kind: 'unblocked' });
    }
    const companyId = (writes[0] ?? flips[0])?.companyId;
    if (wanted.length === 0 || companyId === undefined) return;
    await this.notify(tx, companyId, wanted, 'changes');
  }

  /** The emails wanted: recorded here, or by a job once the transaction commits when they are many. */
  private async notify(tx: Tx, companyId: number, wanted: Wanted, fold: RecordJob['fold']): Promise<void> {
    if (wanted.length <= RECORDED_IN_TRANSACTION) {
      await this.record(tx, companyId, wanted, fold);
      return;
    }
    const groups = new Map<string, RecordJob['notices'][number]>();
    for (const { task, actorId, recipientId, kind } of wanted) {
      const key = `${actorId}:${kind}`;
      const group = groups.get(key) ?? { actor: actorId, kind, pairs: [] };
      group.pairs.push(task.id, recipientId);
      groups.set(key, group);
    }
    await this.jobs.send(tx, QUEUES.record, { companyId, fold, notices: [...groups.values()] } satisfies RecordJob);
  }

  /** The record job's work (notify): in the company's view, about the tasks that still exist. */
  recordLater({ companyId, fold, notices }: RecordJob): Promise<void> {
    return this.db.tenant(companyId, async (tx) => {
      const ids = notices.flatMap(({ pairs }) => pairs.filter((_, i) => i % 2 === 0));
      const tasks = await findTaskHeads(tx, companyId, [...new Set(ids)]);
      const wanted: Array<Wanted[number]> = [];
      for (const { actor, kind, pairs } of notices) {
        for (let i = 0; i < pairs.length; i += 2) {
          const task = tasks.get(pairs[i] as number)?.head;
          if (task !== undefined) wanted.push({ task, actorId: actor, recipientId: pairs[i + 1] as number, kind });
        }
      }
      await this.record(tx, companyId, wanted, fold);
    });
  }

  /**
   * The emails wanted, for those recipients who are active, see the task's project and asked for
   * that kind, recorded (new ones, or folded into one waiting) with a job for each new one.
   */
  private async record(tx: Tx, companyId: number, wanted: Wanted, fold: RecordJob['fold']): Promise<void> {
    const recipients = new Map(
      (await q.activeRecipients(tx, companyId, [...new Set(wanted.map((w) => w.recipientId))])).map((r) => [r.id, r]),
    );
    const sights = await sightsOf(
      tx,
      companyId,
      [...recipients.values()],
      [...new Set(wanted.map((w) => w.task.project))],
    );
    const notices = wanted.flatMap(({ task, actorId, recipientId, kind }): q.ChangeNotice[] => {
      const recipient = recipients.get(recipientId);
      if (recipient === undefined || !sights.has(`${recipientId}:${task.project}`)) return [];
      const wants = {
        assigned: recipient.emailOnAssignment,
        status_changed: recipient.emailOnStatusChange,
        unblocked: recipient.emailOnUnblocked,
        mentioned: recipient.emailOnMention,
        commented: recipient.emailOnComment,
      };
      if (!wants[kind]) return [];
      return [
        {
          companyId,
          taskId: task.id,
          recipientId,
          recipient: recipient.email,
          actorId,
          kind,
          subject: subjectFor(kind, task.title),
          delaySeconds: this.delaySeconds,
        },
      ];
    });
    const recorded = await FOLDS[fold](tx, notices);
    // A change folded into a waiting email already has its job.
    await this.jobs.sendMany(
      tx,
      QUEUES.send,
      recorded
        .filter((r) => r.inserted)
        .map((r) => ({
          data: { companyId, notificationId: r.id } satisfies SendJob,
          startAfterSeconds: this.delaySeconds,
        })),
    );
  }

  /**
   * In a comment's transaction: the users it newly mentions get a `mentioned` email, the task's
   * other watchers (on a new comment) a `commented` one, each if they asked for it; comments on
   * one task within the delay fold into one email per person.
   */
  async commentInTransaction(tx: Tx, write: CommentWrite): Promise<void> {
    if (write.kind === 'deleted') return;
    const { companyId, actorId, task } = write;
    const kinds = new Map<number, q.ChangeNotice['kind']>();
    for (const userId of write.newlyMentioned) kinds.set(userId, 'mentioned');
    if (write.kind === 'created') {
      for (const userId of await watchersOfTask(tx, companyId, task.id)) {
        if (!kinds.has(userId)) kinds.set(userId, 'commented');
      }
    }
    kinds.delete(actorId);
    if (kinds.size === 0) return;
    await this.notify(
      tx,
      companyId,
      [...kinds].map(([recipientId, kind]) => ({ task, actorId, recipientId, kind })),
      'comments',
    );
  }

  /** For the scheduled scans, which record emails due at once. */
  enqueueSend(tx: Tx, job: SendJob, delaySeconds = 0): Promise<string | null> {
    return this.jobs.send(tx, QUEUES.send, job, { startAfterSeconds: delaySeconds });
  }

  /** The caller's own emails, newest first: those about a task only while they see it. */
  list(auth: Auth, query: NotificationListQuery, page: PageRequest) {
    return this.db.tenant(auth, async (tx) => {
      const actor = await requireActor(tx, auth);
      const filter = {
        recipientId: auth.userId,
        taskId: query.task,
        status: query.status,
        taskSeen: (taskId: SQL | Column) => taskSeenSql(auth.companyId, taskId, actor),
      };
      const total = await q.countNotifications(tx, auth.companyId, filter);
      const rows = await q.listNotifications(tx, auth.companyId, filter, page.size, page.offset);
      return { count: total, notifications: rows.map(toNotification) };
    });
  }

  /**
   * The emails about one task, what the task's page shows: to whoever reads its history (anyone
   * who sees its project while it lives; once deleted, the company's admins).
   */
  forTask(auth: Auth, taskId: number, page: PageRequest) {
    return this.db.tenant(auth, async (tx) => {
      const { live } = await requireTaskRecords(tx, auth, taskId);
      const filter = { taskId };
      const total = await q.countNotifications(tx, auth.companyId, filter);
      if (!live && total === 0) throw notFound();
      const rows = await q.listNotifications(tx, auth.companyId, filter, page.size, page.offset);
      return { count: total, notifications: rows.map(toNotification) };
    });
  }

  preferences(auth: Auth): Promise<Preferences> {
    return this.db.tenant(auth.companyId, async (tx) => {
      await requireActor(tx, auth);
      return toPreferences(await q.findPreferences(tx, auth.companyId, auth.userId));
    });
  }

  updatePreferences(auth: Auth, body: PreferencesBody): Promise<Preferences> {
    return this.db.tenant(auth.companyId, async (tx) => {
      await requireActor(tx, auth);
      const changes: Partial<q.Preferences> = {};
      if (body.email_on_assignment !== undefined) changes.emailOnAssignment = body.email_on_assignment;
      if (body.email_on_status_change !== undefined) changes.emailOnStatusChange = body.email_on_status_change;
      if (body.daily_digest !== undefined) changes.dailyDigest = body.daily_digest;
      if (body.email_on_unblocked !== undefined) changes.emailOnUnblocked = body.email_on_unblocked;
      if (body.email_on_mention !== undefined) changes.emailOnMention = body.email_on_mention;
      if (body.email_on_comment !== undefined) changes.emailOnComment = body.email_on_comment;
      return toPreferences(await q.savePreferences(tx, auth.companyId, auth.userId, changes));
    });
  }
}
