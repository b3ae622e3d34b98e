import { requireActor } from '../accounts/service.ts';
import type { Auth } from '../platform/auth.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { notFound } from '../platform/errors.ts';
import type { Jobs } from '../platform/jobs/index.ts';
import type { PageRequest } from '../platform/pagination.ts';
import type { TaskWrite, TaskWriteListener } from '../tasks/hooks.ts';
import { findTaskFacts } from '../tasks/reads.ts';
import { QUEUES, type SendJob } from './jobs.ts';
import * as q from './queries.ts';
import type { Notification, NotificationListQuery, Preferences, PreferencesBody } from './schemas.ts';
import { subjectFor } from './templates.ts';

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
});

export class NotificationsService implements TaskWriteListener {
  constructor(
    private readonly db: Database,
    private readonly jobs: Jobs,
    private readonly delaySeconds: number,
  ) {}

  /**
   * Inside the transaction of each task write, so an email is recorded and queued if and only if
   * the change commits. The assignee hears of an assignment; the assignee and the author of a
   * status change, if they asked to. Nobody hears of their own action, nor of a deletion.
   */
  async inTransaction(tx: Tx, { actorId, before, after }: TaskWrite): Promise<void> {
    if (after === null) return;
    const wanted = new Map<number, 'assigned' | 'status_changed'>();
    if (after.assigned_to !== null && after.assigned_to !== (before?.assigned_to ?? null)) {
      wanted.set(after.assigned_to, 'assigned');
    }
    if (before !== null && before.status !== after.status) {
      for (const id of [after.assigned_to, after.created_by]) {
        if (id !== null && !wanted.has(id)) wanted.set(id, 'status_changed');
      }
    }
    wanted.delete(actorId);
    if (wanted.size === 0) return;
    const recipients = await q.activeRecipients(tx, after.company, [...wanted.keys()]);
    for (const recipient of recipients) {
      const kind = wanted.get(recipient.id);
      if (kind === undefined) continue;
      if (kind === 'assigned' ? !recipient.emailOnAssignment : !recipient.emailOnStatusChange) continue;
      const { id, inserted } = await q.recordChange(tx, {
        companyId: after.company,
        taskId: after.id,
        recipientId: recipient.id,
        recipient: recipient.email,
        actorId,
        kind,
        subject: subjectFor(kind, after.title),
        delaySeconds: this.delaySeconds,
      });
      // A change folded into a waiting email already has its job.
      if (inserted) await this.enqueueSend(tx, { companyId: after.company, notificationId: id }, this.delaySeconds);
    }
  }

  /** For the scheduled scans, which record emails due at once. */
  enqueueSend(tx: Tx, job: SendJob, delaySeconds = 0): Promise<string | null> {
    return this.jobs.send(tx, QUEUES.send, job, { startAfterSeconds: delaySeconds });
  }

  /** The caller's own emails, newest first. */
  list(auth: Auth, query: NotificationListQuery, page: PageRequest) {
    return this.db.tenant(auth.companyId, async (tx) => {
      await requireActor(tx, auth);
      const filter = { recipientId: auth.userId, taskId: query.task, status: query.status };
      const total = await q.countNotifications(tx, auth.companyId, filter);
      const rows = await q.listNotifications(tx, auth.companyId, filter, page.size, page.offset);
      return { count: total, notifications: rows.map(toNotification) };
    });
  }

  /**
   * The emails about one task, what the task's page shows: a live task's to anyone in the company,
   * a deleted one's to its admins only, as its history.
   */
  forTask(auth: Auth, taskId: number, page: PageRequest) {
    return this.db.tenant(auth.companyId, async (tx) => {
      const actor = await requireActor(tx, auth);
      const live = (await findTaskFacts(tx, auth.companyId, taskId)) !== undefined;
      if (!live && actor.role !== 'admin') throw notFound();
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
      return toPreferences(await q.savePreferences(tx, auth.companyId, auth.userId, changes));
    });
  }
}
