import { and, type Column, count, desc, eq, inArray, isNull, or, type SQL, sql } from 'drizzle-orm';
import { type Database, queryRows, type Tx, tenantQuery } from '../platform/db/index.ts';
import {
  NOTIFICATION_PREFERENCE_DEFAULTS,
  type NotificationKind,
  type NotificationStatus,
  notificationPreferences,
  notifications,
  type UserRole,
  users,
} from '../platform/db/schema.ts';
import { type DueTask, factsKey, type TaskFacts, taskFactsSeenBy } from '../tasks/reads.ts';

export interface Preferences {
  emailOnAssignment: boolean;
  emailOnStatusChange: boolean;
  dailyDigest: boolean;
  emailOnUnblocked: boolean;
  emailOnMention: boolean;
  emailOnComment: boolean;
}

/** A preference in SQL: the person's choice, or the default when they made none (no row). */
const preferenceOrDefault = (column: keyof Preferences) =>
  sql<boolean>`coalesce(${preferenceColumns[column]}, ${sql.raw(String(NOTIFICATION_PREFERENCE_DEFAULTS[column]))})`;

const preferenceColumns = {
  emailOnAssignment: notificationPreferences.emailOnAssignment,
  emailOnStatusChange: notificationPreferences.emailOnStatusChange,
  dailyDigest: notificationPreferences.dailyDigest,
  emailOnUnblocked: notificationPreferences.emailOnUnblocked,
  emailOnMention: notificationPreferences.emailOnMention,
  emailOnComment: notificationPreferences.emailOnComment,
};

export async function findPreferences(tx: Tx, companyId: number, userId: number): Promise<Preferences> {
  const [row] = await tx
    .select(preferenceColumns)
    .from(notificationPreferences)
    .where(and(eq(notificationPreferences.companyId, companyId), eq(notificationPreferences.userId, userId)));
  return row ?? NOTIFICATION_PREFERENCE_DEFAULTS;
}

export async function savePreferences(
  tx: Tx,
  companyId: number,
  userId: number,
  changes: Partial<Preferences>,
): Promise<Preferences> {
  const [row] = await tx
    .insert(notificationPreferences)
    .values({ ...NOTIFICATION_PREFERENCE_DEFAULTS, ...changes, companyId, userId })
    .onConflictDoUpdate({
      target: [notificationPreferences.companyId, notificationPreferences.userId],
      set: { ...changes, updatedAt: sql`now()` },
    })
    .returning(preferenceColumns);
  if (row === undefined) throw new Error('preferences upsert returned nothing');
  return row;
}

export interface Recipient extends Preferences {
  id: number;
  email: string;
  role: UserRole;
}

/** The active users among these, with their preferences (defaults where they chose none). */
export function activeRecipients(tx: Tx, companyId: number, userIds: number[]): Promise<Recipient[]> {
  return tx
    .select({
      id: users.id,
      email: users.email,
      role: users.role,
      emailOnAssignment: preferenceOrDefault('emailOnAssignment'),
      emailOnStatusChange: preferenceOrDefault('emailOnStatusChange'),
      dailyDigest: preferenceOrDefault('dailyDigest'),
      emailOnUnblocked: preferenceOrDefault('emailOnUnblocked'),
      emailOnMention: preferenceOrDefault('emailOnMention'),
      emailOnComment: preferenceOrDefault('emailOnComment'),
    })
    .from(users)
    .leftJoin(
      notificationPreferences,
      and(eq(notificationPreferences.companyId, users.companyId), eq(notificationPreferences.userId, users.id)),
    )
    .where(and(eq(users.companyId, companyId), inArray(users.id, userIds), eq(users.isActive, true)));
}

export interface ChangeNotice {
  companyId: number;
  taskId: number;
  recipientId: number;
  recipient: string;
  actorId: number;
  kind: 'assigned' | 'status_changed' | 'unblocked' | 'mentioned' | 'commented';
  subject: string;
  delaySeconds: number;
}

/** Which kind a folded email keeps: an assignment, then an unblocking, then a status change. */
const KIND_RANK = (row: string) =>
  sql.raw(`array_position(array['status_changed', 'unblocked', 'assigned'], ${row}.kind)`);

/**
 * For each notice, a pending email about this task to this person, or the one already waiting,
 * folded: it will describe the task as it is when it goes, and an assignment outranks an
 * unblocking, which outranks a status change. `inserted` says whether a new email (which needs a job) was recorded. One statement for
 * any number of notices, each of a different task and person.
 */
export async function recordChanges(
  tx: Tx,
  notices: readonly ChangeNotice[],
): Promise<Array<{ id: number; inserted: boolean }>> {
  if (notices.length === 0) return [];
  return queryRows<{ id: number; inserted: boolean }>(
    tx,
    sql`insert into notifications
          (company_id, kind, task_id, recipient_id, recipient, actor_id, subject, scheduled_for)
        select n."companyId", n.kind, n."taskId", n."recipientId", n.recipient, n."actorId", n.subject,
               now() + make_interval(secs => n."delaySeconds")
          from jsonb_to_recordset(${JSON.stringify(notices)}::jsonb) as n("companyId" int, kind text, "taskId" int,
               "recipientId" int, recipient text, "actorId" int, subject text, "delaySeconds" int)
        on conflict (company_id, task_id, recipient_id)
          where status = 'pending' and handed_over_at is null and kind in ('assigned', 'status_changed', 'unblocked')
        do update set
          kind = case when ${KIND_RANK('excluded')} >= ${KIND_RANK('notifications')}
                      then excluded.kind else notifications.kind end,
          subject = case when ${KIND_RANK('excluded')} >= ${KIND_RANK('notifications')}
                         then excluded.subject else notifications.subject end,
          actor_id = excluded.actor_id,
          revision = notifications.revision + 1,
          updated_at = now()
        returning id, (xmax = 0) as inserted`,
  );
}

/**
 * recordChanges for the emails about comments: one waiting per task and person
 * (notifications_pending_comment_key), each later comment folded in (its revision counts them);
 * a mention outranks a plain comment.
 */
export async function recordComments(
  tx: Tx,
  notices: readonly ChangeNotice[],
): Promise<Array<{ id: number; inserted: boolean }>> {
  if (notices.length === 0) return [];
  return queryRows<{ id: number; inserted: boolean }>(
    tx,
    sql`insert into notifications
          (company_id, kind, task_id, recipient_id, recipient, actor_id, subject, scheduled_for)
        select n."companyId", n.kind, n."taskId", n."recipientId", n.recipient, n."actorId", n.subject,
               now() + make_interval(secs => n."delaySeconds")
          from jsonb_to_recordset(${JSON.stringify(notices)}::jsonb) as n("companyId" int, kind text, "taskId" int,
               "recipientId" int, recipient text, "actorId" int, subject text, "delaySeconds" int)
        on conflict (company_id, task_id, recipient_id)
          where status = 'pending' and handed_over_at is null and kind in ('mentioned', 'commented')
        do update set
          kind = case when notifications.kind = 'mentioned' then notifications.kind else excluded.kind end,
          subject = case when notifications.kind = 'mentioned' then notifications.subject else excluded.subject end,
          actor_id = excluded.actor_id,
          revision = notifications.revision + 1,
          updated_at = now()
        returning id, (xmax = 0) as inserted`,
  );
}

export interface NotificationRow {
  id: number;
  companyId: number;
  kind: NotificationKind;
  taskId: number | null;
  recipientId: number;
  recipient: string;
  actorId: number | null;
  subject: string;
  status: NotificationStatus;
  scheduledFor: Date;
  sentAt: Date | null;
  attempts: number;
  error: string | null;
  revision: number;
  handedOverAt: Date | null;
  dueDate: Date | null;
  digestDay: string | null;
}

const notificationColumns = {
  id: notifications.id,
  companyId: notifications.companyId,
  kind: notifications.kind,
  taskId: notifications.taskId,
  recipientId: notifications.recipientId,
  recipient: notifications.recipient,
  actorId: notifications.actorId,
  subject: notifications.subject,
  status: notifications.status,
  scheduledFor: notifications.scheduledFor,
  sentAt: notifications.sentAt,
  attempts: notifications.attempts,
  error: notifications.error,
  revision: notifications.revision,
  handedOverAt: notifications.handedOverAt,
  dueDate: notifications.dueDate,
  digestDay: notifications.digestDay,
};

export interface NotificationFilter {
  recipientId?: number;
  taskId?: number;
  status?: NotificationStatus;
  /** Whether the reader sees the task a column names (tasks' taskSeenSql): emails about no task pass. */
  taskSeen?: (taskId: SQL | Column) => SQL;
}

function filterClause(companyId: number, filter: NotificationFilter) {
  return and(
    eq(notifications.companyId, companyId),
    filter.recipientId === undefined ? undefined : eq(notifications.recipientId, filter.recipientId),
    filter.taskId === undefined ? undefined : eq(notifications.taskId, filter.taskId),
    filter.status === undefined ? undefined : eq(notifications.status, filter.status),
    filter.taskSeen === undefined ? undefined : or(isNull(notifications.taskId), filter.taskSeen(notifications.taskId)),
  );
}

export async function countNotifications(tx: Tx, companyId: number, filter: NotificationFilter): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(notifications).where(filterClause(companyId, filter));
  return row?.n ?? 0;
}

/** Newest first. */
export function listNotifications(
  tx: Tx,
  companyId: number,
  filter: NotificationFilter,
  limit: number,
  offset: number,
): Promise<NotificationRow[]> {
  return tx
    .select(notificationColumns)
    .from(notifications)
    .where(filterClause(companyId, filter))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(limit)
    .offset(offset);
}

export interface SendingContext {
  notification: NotificationRow;
  recipient: { email: string; name: string; isActive: boolean } | undefined;
  actorName: string | null;
  companyName: string;
  task: TaskFacts | undefined;
}

const personName = (u: string) => `coalesce(nullif(trim(${u}.first_name || ' ' || ${u}.last_name), ''), ${u}.username)`;

const SENDING_CONTEXT = `
  select n.id, n.company_id as "companyId", n.kind, n.task_id as "taskId", n.recipient_id as "recipientId",
         n.recipient, n.actor_id as "actorId", n.subject, n.status, n.scheduled_for as "scheduledFor",
         n.sent_at as "sentAt", n.attempts, n.error, n.revision, n.handed_over_at as "handedOverAt",
         n.due_date as "dueDate", n.digest_day as "digestDay",
         r.email as "recipientEmail", ${personName('r')} as "recipientName", r.is_active as "recipientActive",
         ${personName('a')} as "actorName", c.name as "companyName"
    from notifications n
    join companies c on c.id = n.company_id
    left join users r on r.company_id = n.company_id and r.id = n.recipient_id
    left join users a on a.company_id = n.company_id and a.id = n.actor_id
   where n.company_id = $1 and n.id = any($2::int[])`;

const dateOrNull = (value: Date | string | null) => (value === null ? null : new Date(value));

type SendingRow = Omit<NotificationRow, 'scheduledFor' | 'sentAt' | 'handedOverAt' | 'dueDate'> & {
  scheduledFor: string;
  sentAt: string | null;
  handedOverAt: string | null;
  dueDate: string | null;
  recipientEmail: string | null;
  recipientName: string | null;
  recipientActive: boolean | null;
  actorName: string | null;
  companyName: string;
};

/**
 * Each record with all its email needs (recipient, actor, company, then the tasks' facts from the
 * tasks feature): many records of one company in two round trips. Not locked: two attempts at one
 * email may both render it, but only one can set the hand-over mark. A record that no longer
 * exists is absent from the map.
 */
export async function readManyForSending(
  db: Database,
  companyId: number,
  ids: number[],
): Promise<Map<number, SendingContext>> {
  const rows = await tenantQuery<SendingRow>(db, companyId, SENDING_CONTEXT, [companyId, ids]);
  // As the recipient sees it now: one who has left its private project since hears nothing of it.
  const facts = await taskFactsSeenBy(
    db,
    companyId,
    rows.flatMap((row) => (row.taskId === null ? [] : [{ taskId: row.taskId, userId: row.recipientId }])),
  );
  return new Map(
    rows.map((row) => [
      row.id,
      sendingContext(row, row.taskId === null ? undefined : facts.get(factsKey(row.taskId, row.recipientId))),
    ]),
  );
}

function sendingContext(row: SendingRow, task: TaskFacts | undefined): SendingContext {
  return {
    notification: {
      id: row.id,
      companyId: row.companyId,
      kind: row.kind,
      taskId: row.taskId,
      recipientId: row.recipientId,
      recipient: row.recipient,
      actorId: row.actorId,
      subject: row.subject,
      status: row.status,
      scheduledFor: new Date(row.scheduledFor),
      sentAt: dateOrNull(row.sentAt),
      attempts: row.attempts,
      error: row.error,
      revision: row.revision,
      handedOverAt: dateOrNull(row.handedOverAt),
      dueDate: dateOrNull(row.dueDate),
      digestDay: row.digestDay,
    },
    recipient:
      row.recipientEmail === null
        ? undefined
        : { email: row.recipientEmail, name: row.recipientName ?? '', isActive: row.recipientActive === true },
    actorName: row.actorName,
    companyName: row.companyName,
    task,
  };
}

export async function deleteNotification(tx: Tx, companyId: number, id: number): Promise<void> {
  await tx.delete(notifications).where(and(eq(notifications.companyId, companyId), eq(notifications.id, id)));
}

export async function prepareAttempt(
  tx: Tx,
  companyId: number,
  id: number,
  values: { subject: string; recipient: string },
): Promise<void> {
  await tx
    .update(notifications)
    .set({ ...values, status: 'pending', updatedAt: sql`now()` })
    .where(and(eq(notifications.companyId, companyId), eq(notifications.id, id)));
}

// The ids as an array reach the primary key, and each row finds its own value by position: a join
// with unnest() was planned as a scan of the company's notifications, milliseconds for a handful.
const HAND_OVER = `
  update notifications n set handed_over_at = now()
   where n.company_id = $1 and n.id = any($2::int[])
     and n.revision = ($3::int[])[array_position($2::int[], n.id)]
     and n.status = 'pending' and n.handed_over_at is null
  returning n.id`;

/**
 * Commits the hand-over marks of many records of one company at once, each only if nothing was
 * folded in since its `revision` was rendered, and calls `onCommitSent` with the ids marked as the
 * COMMIT goes out (rolled back when none is). Two round trips: the statement with its BEGIN, then
 * COMMIT.
 */
export async function markManyHandedOver(
  db: Database,
  companyId: number,
  rendered: Array<{ id: number; revision: number }>,
  onCommitSent: (marked: Set<number>) => void,
): Promise<Set<number>> {
  let marked = new Set<number>();
  await tenantQuery<{ id: number }>(
    db,
    companyId,
    HAND_OVER,
    [companyId, rendered.map((r) => r.id), rendered.map((r) => r.revision)],
    {
      commitIf: (rows) => {
        marked = new Set(rows.map((row) => row.id));
        return marked.size > 0;
      },
      onCommitSent: () => onCommitSent(marked),
    },
  );
  return marked;
}

// Matched as HAND_OVER is.
const MARK_SENT = `
  update notifications n
     set status = 'sent', sent_at = now(), attempts = n.attempts + 1, error = null,
         server_response = ($3::text[])[array_position($2::int[], n.id)], updated_at = now()
   where n.company_id = $1 and n.id = any($2::int[])`;

/** Several sent at once, in one round trip: [id, the server's answer] pairs. */
export async function markManySent(db: Database, companyId: number, sent: Array<[number, string]>): Promise<void> {
  await tenantQuery(db, companyId, MARK_SENT, [
    companyId,
    sent.map(([id]) => id),
    sent.map(([, response]) => response),
  ]);
}

/** Sent: now, or when it was handed over by a worker that did not live to record it. */
export async function markSent(
  tx: Tx,
  companyId: number,
  id: number,
  serverResponse: string,
  at: Date | null = null,
): Promise<void> {
  await tx
    .update(notifications)
    .set({
      status: 'sent',
      sentAt: at ?? sql`now()`,
      attempts: sql`${notifications.attempts} + 1`,
      error: null,
      serverResponse,
      updatedAt: sql`now()`,
    })
    .where(and(eq(notifications.companyId, companyId), eq(notifications.id, id)));
}

/** A failed attempt: retried later while it stays pending, or given up as failed. */
export async function markAttemptFailed(
  tx: Tx,
  companyId: number,
  id: number,
  error: string,
  final: boolean,
): Promise<void> {
  await tx
    .update(notifications)
    .set({
      status: final ? 'failed' : 'pending',
      attempts: sql`${notifications.attempts} + 1`,
      error,
      handedOverAt: null,
      updatedAt: sql`now()`,
    })
    .where(and(eq(notifications.companyId, companyId), eq(notifications.id, id)));
}

export interface Created {
  companyId: number;
  id: number;
}

/**
 * Across companies: a reminder to each assignee of these tasks who is active, wants assignment
 * emails and has not been reminded of this due date (the unique index), in one statement.
 */
export function unsafeRecordDueSoon(tx: Tx, due: DueTask[], subjectOf: (title: string) => string): Promise<Created[]> {
  if (due.length === 0) return Promise.resolve([]);
  const column = <T>(pick: (task: DueTask) => T) => sql.param(due.map(pick));
  return queryRows<Created>(
    tx,
    sql`insert into notifications
          (company_id, kind, task_id, recipient_id, recipient, subject, scheduled_for, due_date)
        select d.company_id, 'due_soon', d.task_id, u.id, u.email, d.subject, now(), d.due_date
          from unnest(${column((t) => t.companyId)}::int[], ${column((t) => t.taskId)}::int[],
                      ${column((t) => t.assignedTo)}::int[], ${column((t) => t.dueDate)}::timestamptz[],
                      ${column((t) => subjectOf(t.title))}::text[])
               as d(company_id, task_id, assigned_to, due_date, subject)
          join users u on u.company_id = d.company_id and u.id = d.assigned_to
          left join notification_preferences
            on notification_preferences.company_id = u.company_id and notification_preferences.user_id = u.id
         where u.is_active and ${preferenceOrDefault('emailOnAssignment')}
           -- most of the window was reminded of by earlier scans: skipped here, not tried and refused
           and not exists (select 1 from notifications n
                            where n.company_id = d.company_id and n.task_id = d.task_id
                              and n.kind = 'due_soon' and n.due_date = d.due_date)
        on conflict (company_id, task_id, due_date) where kind = 'due_soon' do nothing
        returning company_id as "companyId", id`,
  );
}

/** Across companies: the active people who asked for a daily digest. */
export function unsafeDigestRecipients(tx: Tx): Promise<Array<{ companyId: number; userId: number }>> {
  return queryRows(
    tx,
    sql`select u.company_id as "companyId", u.id as "userId"
          from notification_preferences p
          join users u on u.company_id = p.company_id and u.id = p.user_id
         where p.daily_digest and u.is_active`,
  );
}

/** Across companies: the day's digest for each of these people, once a day. */
export function unsafeRecordDigests(
  tx: Tx,
  people: Array<{ companyId: number; userId: number }>,
  day: string,
  subject: string,
): Promise<Created[]> {
  if (people.length === 0) return Promise.resolve([]);
  return queryRows<Created>(
    tx,
    sql`insert into notifications (company_id, kind, recipient_id, recipient, subject, scheduled_for, digest_day)
        select u.company_id, 'digest', u.id, u.email, ${subject}, now(), ${day}
          from unnest(${sql.param(people.map((p) => p.companyId))}::int[], ${sql.param(people.map((p) => p.userId))}::int[])
               as r(company_id, user_id)
          join users u on u.company_id = r.company_id and u.id = r.user_id
        on conflict (company_id, recipient_id, digest_day) where kind = 'digest' do nothing
        returning company_id as "companyId", id`,
  );
}
