import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createTestContext,
  json,
  queueSettled,
  registerCompany,
  requestsTo,
  type Session,
  TEST_DB,
  type TestContext,
} from '../../test/helpers.ts';
import { scratchDir } from '../../test/scratch.ts';
import { SmtpSink } from '../../test/smtp.ts';
import { until } from '../../test/timing.ts';
import { Jobs } from '../platform/jobs/index.ts';
import type { Task } from '../tasks/schemas.ts';
import { createNotificationQueues, QUEUES, type RecordJob, type SendJob } from './jobs.ts';
import { OutboxMailer, SmtpMailer } from './mailer.ts';
import * as q from './queries.ts';
import type { Notification } from './schemas.ts';
import { NotificationsService, RECORDED_IN_TRANSACTION } from './service.ts';
import { NotificationWorker } from './worker.ts';

const DELAY_SECONDS = 2;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Harness {
  ctx: TestContext;
  sink: SmtpSink;
  jobs: Jobs;
  worker: NotificationWorker;
  mailer: SmtpMailer;
  close(): Promise<void>;
}

/** The API (from createTestContext) plus a worker process's half: its queue, mailer and sender. */
async function harness(retryDelaySeconds: number): Promise<Harness> {
  const sink = await new SmtpSink().start();
  const ctx = await createTestContext({
    notificationDelaySeconds: DELAY_SECONDS,
    notificationRetryDelaySeconds: retryDelaySeconds,
    smtpUrl: sink.url,
    publicUrl: 'http://tasks.example',
  });
  const jobs = new Jobs(ctx.db, { logger: quiet, processing: true, pollingIntervalSeconds: 0.5 });
  await jobs.start();
  await createNotificationQueues(jobs, ctx.config);
  const mailer = new SmtpMailer({ url: sink.url, maxConnections: 4 });
  const service = new NotificationsService(ctx.db, jobs, DELAY_SECONDS);
  const worker = new NotificationWorker(ctx.db, jobs, service, mailer, ctx.config, quiet, [ctx.services.inbox]);
  await jobs.work<SendJob>(QUEUES.send, (job) => worker.send(job), { batchSize: 10, concurrency: 4 });
  await jobs.work<RecordJob>(QUEUES.record, (job) => service.recordLater(job.data));
  return {
    ctx,
    sink,
    jobs,
    worker,
    mailer,
    close: async () => {
      await jobs.stop();
      mailer.close();
      await ctx.close();
      await sink.close();
    },
  };
}

describe(`email notifications (${TEST_DB})`, () => {
  let h: Harness;
  let admin: Session;
  let member: Session;
  let other: Session;

  beforeAll(async () => {
    h = await harness(1);
    admin = await registerCompany(h.ctx.app);
    member = await addMember(h.ctx.app, admin);
    other = await addMember(h.ctx.app, admin);
  });
  afterAll(() => h.close());

  const { call, createTask } = requestsTo(() => h.ctx.app);

  /** Every record about a task, whoever it is for, oldest first. */
  const recordsOf = (task: Task) =>
    h.ctx.db
      .tenant(task.company, (tx) => q.listNotifications(tx, task.company, { taskId: task.id }, 100, 0))
      .then((rows) => rows.reverse());

  const setPreferences = async (session: Session, body: object) =>
    expect((await call(session, 'PATCH', '/api/notifications/preferences/', body)).statusCode).toBe(200);

  /** Once no email job waits or runs, no further email can go. */
  const settled = () => queueSettled(h.jobs, QUEUES.send);

  const htmlPart = (decoded: string) => decoded.slice(decoded.indexOf('Content-Type: text/html'));

  it('sends the assignee one email after the delay, not before, with the task escaped and linked', async () => {
    const title = 'Fix <b>"login"</b> & more';
    const started = Date.now();
    const task = await createTask(admin, {
      title,
      assigned_to: member.user.id,
      priority: 'high',
      due_date: '2031-05-01T09:30:00Z',
    });

    // recorded as pending at once, in the write's transaction
    const mine = json<{ count: number; results: Notification[] }>(await call(member, 'GET', '/api/notifications/'));
    expect(mine.count).toBe(1);
    expect(mine.results[0]).toMatchObject({
      task: task.id,
      recipient: member.user.email,
      subject: `Assigned to you: ${title}`,
      status: 'pending',
      attempts: 0,
      sent_at: null,
      kind: 'assigned',
    });

    await h.sink.waitFor(() => h.sink.to(member.user.email).length > 0);
    const [email] = h.sink.to(member.user.email);
    expect((email?.receivedAt ?? 0) - started).toBeGreaterThanOrEqual(DELAY_SECONDS * 1000 - 100);
    const id = mine.results[0]?.id as number;
    expect(email?.messageId).toBe(`notification-${task.company}-${id}@localhost`);
    expect(email?.subject).toBe(`Assigned to you: ${title}`);
    const html = htmlPart(email?.decoded ?? '');
    expect(html).toContain('Fix &lt;b&gt;&quot;login&quot;&lt;/b&gt; &amp; more');
    expect(html).not.toContain('<b>"login"</b>');
    expect(html).toContain(`http://tasks.example/tasks/${task.id}`);
    expect(email?.decoded).toContain('Priority: High');
    expect(email?.decoded).toContain('2031-05-01 09:30 UTC');
    expect(email?.decoded).toContain('You were assigned a task by Test User.');

    await settled();
    expect(h.sink.to(member.user.email)).toHaveLength(1);
    const [record] = await recordsOf(task);
    expect(record).toMatchObject({ status: 'sent', attempts: 1, error: null });
    expect(record?.sentAt?.getTime()).toBeGreaterThanOrEqual(record?.scheduledFor.getTime() ?? Infinity);
  });

  it('emails nobody about their own action, nor against their preference', async () => {
    const own = await createTask(admin, { title: 'Mine', assigned_to: admin.user.id });
    await setPreferences(member, { email_on_assignment: false });
    const unwanted = await createTask(admin, { title: 'Not wanted', assigned_to: member.user.id });
    await setPreferences(member, { email_on_assignment: true });
    expect(await recordsOf(own)).toEqual([]);
    expect(await recordsOf(unwanted)).toEqual([]);
  });

  it('emails about status changes those who asked for it', async () => {
    await setPreferences(admin, { email_on_status_change: true });
    const task = await createTask(admin, { title: 'Watch me', assigned_to: member.user.id });
    // the member's own change: the author hears of it, the member does not
    expect((await call(member, 'PATCH', `/api/tasks/${task.id}/`, { status: 'in_progress' })).statusCode).toBe(200);
    await h.sink.waitFor(() => h.sink.to(admin.user.email).some((m) => m.subject === 'Status changed: Watch me'));
    const records = await recordsOf(task);
    expect(records.map((r) => [r.kind, r.recipientId])).toEqual([
      ['assigned', member.user.id],
      ['status_changed', admin.user.id],
    ]);
    const email = h.sink.to(admin.user.email).find((m) => m.subject === 'Status changed: Watch me');
    expect(email?.decoded).toContain('In progress');

    await setPreferences(admin, { email_on_status_change: false });
    expect((await call(member, 'PATCH', `/api/tasks/${task.id}/`, { status: 'done' })).statusCode).toBe(200);
    expect(await recordsOf(task)).toHaveLength(2);
  });

  it('folds quick successive changes into one email about the latest state', async () => {
    const task = await createTask(admin, { title: 'Draft', assigned_to: member.user.id });
    await setPreferences(member, { email_on_status_change: true });
    for (const change of [{ title: 'Final title' }, { priority: 'urgent' }, { status: 'in_progress' }]) {
      expect((await call(admin, 'PATCH', `/api/tasks/${task.id}/`, change)).statusCode).toBe(200);
    }
    await setPreferences(member, { email_on_status_change: false });
    await h.sink.waitFor(() => h.sink.to(member.user.email).some((m) => m.subject.endsWith('Final title')));
    await settled();
    const [record] = await recordsOf(task);
    const emails = h.sink.to(member.user.email).filter((m) => m.messageId.endsWith(`-${record?.id}@localhost`));
    expect(emails).toHaveLength(1);
    expect(emails[0]?.subject).toBe('Assigned to you: Final title');
    expect(emails[0]?.decoded).toContain('Urgent');
    expect(emails[0]?.decoded).toContain('In progress');
    expect(await recordsOf(task)).toHaveLength(1);
  });

  it('drops the email of someone the task was taken from before it went', async () => {
    const task = await createTask(admin, { title: 'Passed on', assigned_to: member.user.id });
    expect((await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { assigned_to: other.user.id })).statusCode).toBe(200);
    await h.sink.waitFor(() => h.sink.to(other.user.email).some((m) => m.subject === 'Assigned to you: Passed on'));
    await settled();
    expect(h.sink.to(member.user.email).filter((m) => m.subject === 'Assigned to you: Passed on')).toEqual([]);
    expect((await recordsOf(task)).map((r) => [r.recipientId, r.status])).toEqual([[other.user.id, 'sent']]);
  });

  it('retries with backoff: three refusals, then sent at the fourth attempt', async () => {
    h.sink.failures = 3;
    const task = await createTask(admin, { title: 'Flaky server', assigned_to: member.user.id });
    await h.sink.waitFor(() => h.sink.to(member.user.email).some((m) => m.subject.endsWith('Flaky server')), 28_000);
    // the server's acceptance is recorded a moment later, with others
    await until(async () => (await recordsOf(task))[0]?.status === 'sent', 5_000);
    const [record] = await recordsOf(task);
    expect(record).toMatchObject({ status: 'sent', attempts: 4, error: null });
    expect(h.sink.to(member.user.email).filter((m) => m.subject.endsWith('Flaky server'))).toHaveLength(1);
  }, 40_000);

  it('records nothing and queues nothing for a write that is rolled back', async () => {
    const sendJobs = async () => {
      const stats = (await h.jobs.stats()).find((s) => s.queue === QUEUES.send);
      return Object.values(stats?.states ?? {}).reduce((a, b) => a + b, 0);
    };
    const before = await sendJobs();
    const task = await createTask(admin, { title: 'Rolled back' });
    const service = new NotificationsService(h.ctx.db, h.jobs, DELAY_SECONDS);
    await expect(
      h.ctx.db.tenant(task.company, async (tx) => {
        await service.inTransaction(tx, [
          {
            kind: 'updated',
            companyId: task.company,
            actorId: admin.user.id,
            before: task,
            after: { ...task, assigned_to: member.user.id },
          },
        ]);
        throw new Error('the write fails after the email was recorded');
      }),
    ).rejects.toThrow('the write fails');
    expect(await recordsOf(task)).toEqual([]);
    expect(await sendJobs()).toBe(before);
  });

  it('leaves the emails of a write that concerns many to a job, which records each once it commits', async () => {
    const jobsOf = async (queue: string) => {
      const stats = (await h.jobs.stats()).find((s) => s.queue === queue);
      return Object.values(stats?.states ?? {}).reduce((a, b) => a + b, 0);
    };
    const hub = await createTask(admin, { title: 'Hub' });
    // The member's own tasks, waiting for the admin's: each unblocking is an email to them.
    const waiting: Task[] = [];
    for (let i = 0; i <= RECORDED_IN_TRANSACTION; i++) {
      waiting.push(
        await createTask(member, { title: `Waiting ${i}`, assigned_to: member.user.id, blocked_by: [hub.id] }),
      );
    }

    // A rolled-back write that would have told them all leaves no job behind.
    const before = await jobsOf(QUEUES.record);
    const service = new NotificationsService(h.ctx.db, h.jobs, DELAY_SECONDS);
    await expect(
      h.ctx.db.tenant(hub.company, async (tx) => {
        await service.inTransaction(
          tx,
          waiting.map((task) => ({
            kind: 'updated' as const,
            companyId: task.company,
            actorId: admin.user.id,
            before: task,
            after: { ...task, is_blocked: false },
          })),
        );
        throw new Error('the write fails after its job was enqueued');
      }),
    ).rejects.toThrow('the write fails');
    expect(await jobsOf(QUEUES.record)).toBe(before);

    expect((await call(admin, 'PATCH', `/api/tasks/${hub.id}/`, { status: 'done' })).statusCode).toBe(200);
    expect(await jobsOf(QUEUES.record)).toBe(before + 1);
    const subjects = new Set(waiting.map((task) => `Ready to start: ${task.title}`));
    const received = () => h.sink.to(member.user.email).filter((m) => subjects.has(m.subject));
    await h.sink.waitFor(() => received().length === waiting.length, 20_000);
    await settled();
    expect(new Set(received().map((m) => m.subject))).toEqual(subjects);
    const records = await h.ctx.db.tenant(hub.company, (tx) =>
      q.listNotifications(tx, hub.company, { recipientId: member.user.id }, 1000, 0),
    );
    const unblocked = records.filter((r) => r.kind === 'unblocked' && r.actorId === admin.user.id);
    expect(unblocked.map((r) => r.taskId).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(waiting.map((t) => t.id));
    expect(unblocked.every((r) => r.status === 'sent')).toBe(true);
  }, 40_000);

  it('does not send again an email a crashed worker had handed over', async () => {
    const task = await createTask(admin, { title: 'Handed over' });
    const { id } = (
      await h.ctx.db.tenant(task.company, (tx) =>
        q.recordChanges(tx, [
          {
            companyId: task.company,
            taskId: task.id,
            recipientId: member.user.id,
            recipient: member.user.email,
            actorId: admin.user.id,
            kind: 'assigned',
            subject: 'Assigned to you: Handed over',
            delaySeconds: 0,
          },
        ]),
      )
    )[0] as { id: number };
    expect(await q.markManyHandedOver(h.ctx.db, task.company, [{ id, revision: 0 }], () => undefined)).toEqual(
      new Set([id]),
    );
    await h.worker.send({
      id: 'manual',
      queue: QUEUES.send,
      data: { companyId: task.company, notificationId: id },
      retryCount: 1,
      retryLimit: 4,
    });
    const [record] = await recordsOf(task);
    expect(record).toMatchObject({ status: 'sent', attempts: 1 });
    expect(h.sink.received.filter((m) => m.messageId.startsWith(`notification-${task.company}-${id}@`))).toEqual([]);
  });

  it('sends once an email that two attempts in one worker try at the same moment', async () => {
    const task = await createTask(admin, { title: 'Twice at once', assigned_to: member.user.id });
    const [pending] = await recordsOf(task);
    if (pending === undefined) throw new Error('no email recorded for the assignment');
    const { id } = pending;
    // Their reads, hand-overs and records go in the same batches.
    const attempt = (n: number) =>
      h.worker.send({
        id: `manual-${n}`,
        queue: QUEUES.send,
        data: { companyId: task.company, notificationId: id },
        retryCount: 0,
        retryLimit: 4,
      });
    await Promise.all([attempt(1), attempt(2)]);
    // the assignment's own job, too, has run by then
    await settled();
    const [record] = await recordsOf(task);
    expect(record).toMatchObject({ status: 'sent' });
    expect(h.sink.received.filter((m) => m.messageId.startsWith(`notification-${task.company}-${id}@`))).toHaveLength(
      1,
    );
  });

  it('without SMTP writes each email once to the outbox as an .eml file', async () => {
    const directory = scratchDir('tasks-outbox-');
    const logged: object[] = [];
    const outbox = new NotificationWorker(
      h.ctx.db,
      h.jobs,
      new NotificationsService(h.ctx.db, h.jobs, DELAY_SECONDS),
      new OutboxMailer(directory, (details) => logged.push(details)),
      h.ctx.config,
      quiet,
    );
    const task = await createTask(admin, { title: 'Offline <mail>' });
    const { id } = (
      await h.ctx.db.tenant(task.company, (tx) =>
        q.recordChanges(tx, [
          {
            companyId: task.company,
            taskId: task.id,
            recipientId: member.user.id,
            recipient: member.user.email,
            actorId: admin.user.id,
            kind: 'assigned',
            subject: 'Assigned to you: Offline <mail>',
            delaySeconds: 0,
          },
        ]),
      )
    )[0] as { id: number };
    // assigned for real, so the email is still true when it goes
    await h.ctx.db.tenant(task.company, (tx) =>
      tx.execute(
        sql`update tasks set assigned_to = ${member.user.id} where company_id = ${task.company} and id = ${task.id}`,
      ),
    );
    const job = {
      id: 'outbox',
      queue: QUEUES.send,
      data: { companyId: task.company, notificationId: id },
      retryCount: 0,
      retryLimit: 4,
    };
    await outbox.send(job);
    const name = `notification-${task.company}-${id}@localhost.eml`;
    expect(readdirSync(directory)).toEqual([name]);
    const eml = readFileSync(path.join(directory, name), 'utf8');
    expect(eml).toContain(`To: ${member.user.email}`);
    expect(eml).toContain('Offline &lt;mail&gt;');
    expect(logged).toEqual([expect.objectContaining({ to: member.user.email, file: path.join(directory, name) })]);

    // a crash after the file was written but before the record: the retry finds the file
    await h.ctx.db.tenant(task.company, (tx) =>
      tx.execute(
        sql`update notifications set status = 'pending', handed_over_at = null where company_id = ${task.company} and id = ${id}`,
      ),
    );
    await outbox.send({ ...job, retryCount: 1 });
    expect(readdirSync(directory)).toEqual([name]);
    expect((await recordsOf(task))[0]).toMatchObject({ status: 'sent' });
    expect(logged).toHaveLength(1);
  });

  it('reminds the assignee once per task and due date, a day ahead', async () => {
    const inHours = (n: number) => new Date(Date.now() + n * 3_600_000).toISOString();
    const soon = await createTask(admin, { title: 'Due soon', due_date: inHours(3) });
    const later = await createTask(admin, { title: 'Due later', due_date: inHours(48) });
    const finished = await createTask(admin, { title: 'Due but done', due_date: inHours(3), status: 'done' });
    for (const task of [soon, later, finished]) {
      // assigned by the admin to themself: no assignment email, only the reminder
      await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { assigned_to: admin.user.id });
    }
    expect(await h.worker.scanDueSoon()).toBeGreaterThanOrEqual(1);
    expect(await h.worker.scanDueSoon()).toBe(0);
    await h.sink.waitFor(() => h.sink.to(admin.user.email).some((m) => m.subject === 'Due soon: Due soon'));
    expect(await recordsOf(later)).toEqual([]);
    expect(await recordsOf(finished)).toEqual([]);

    // a new due date is a new reminder
    await call(admin, 'PATCH', `/api/tasks/${soon.id}/`, { due_date: inHours(5) });
    await h.worker.scanDueSoon();
    await h.sink.waitFor(
      () => h.sink.to(admin.user.email).filter((m) => m.subject === 'Due soon: Due soon').length === 2,
    );
    expect((await recordsOf(soon)).map((r) => r.kind)).toEqual(['due_soon', 'due_soon']);
  });

  it('also puts a due_soon item in the assignee’s inbox, once, while they see the task', async () => {
    const inHours = (n: number) => new Date(Date.now() + n * 3_600_000).toISOString();
    const assignee = await addMember(h.ctx.app, admin);
    const hidden = json<{ id: number }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Hidden reminders', is_private: true }),
    ).id;
    await call(admin, 'PUT', `/api/projects/${hidden}/members/${assignee.user.id}/`, { role: 'member' });
    const seen = await createTask(admin, { title: 'Seen soon', due_date: inHours(2), assigned_to: assignee.user.id });
    const unseen = await createTask(admin, {
      title: 'Unseen soon',
      project: hidden,
      due_date: inHours(2),
      assigned_to: assignee.user.id,
    });
    await call(admin, 'DELETE', `/api/projects/${hidden}/members/${assignee.user.id}/`);
    await h.worker.scanDueSoon();
    await h.worker.scanDueSoon();
    const items = json<{ results: Array<{ kind: string; task: { id: number }; actor: unknown }> }>(
      await call(assignee, 'GET', '/api/inbox/?page_size=100'),
    ).results;
    expect(items.filter((i) => i.kind === 'due_soon')).toEqual([
      expect.objectContaining({ task: expect.objectContaining({ id: seen.id }), actor: null }),
    ]);
    const all = await h.ctx.db.unsafeSystem((tx) =>
      tx.execute(sql`select count(*)::int as n from inbox_items where task_id = ${unseen.id} and kind = 'due_soon'`),
    );
    expect((all as unknown as { rows: Array<{ n: number }> }).rows[0]?.n).toBe(0);
  });

  it('emails a mention at once per the preference, and folds comments on a task into one email', async () => {
    const reader = await addMember(h.ctx.app, admin);
    const task = await createTask(admin, { title: 'Talked about' });
    const say = async (who: Session, body: string) =>
      expect((await call(who, 'POST', `/api/tasks/${task.id}/comments/`, { body })).statusCode).toBe(201);
    // Their own mention is nobody's email; a mention of the reader is (on by default).
    await say(admin, `Note to self @${admin.user.username}`);
    await say(admin, `What do you think, @${reader.user.username}?`);
    expect((await recordsOf(task)).map((r) => [r.kind, r.recipientId])).toEqual([['mentioned', reader.user.id]]);
    await h.sink.waitFor(() =>
      h.sink.to(reader.user.email).some((m) => m.subject === 'You were mentioned: Talked about'),
    );
    const mention = h.sink.to(reader.user.email).find((m) => m.subject === 'You were mentioned: Talked about');
    expect(mention?.decoded).toContain('You were mentioned in a comment on a task by Test User.');
    await settled();

    // The reader now watches, and asks for comment emails: three comments, one email.
    await setPreferences(reader, { email_on_comment: true });
    for (const n of [1, 2, 3]) await say(admin, `Update ${n}`);
    const records = await recordsOf(task);
    expect(records.map((r) => [r.kind, r.recipientId, r.status])).toEqual([
      ['mentioned', reader.user.id, 'sent'],
      ['commented', reader.user.id, 'pending'],
    ]);
    await h.sink.waitFor(() => h.sink.to(reader.user.email).some((m) => m.subject === 'New comments: Talked about'));
    await settled();
    const folded = h.sink.to(reader.user.email).filter((m) => m.subject === 'New comments: Talked about');
    expect(folded).toHaveLength(1);
    expect(folded[0]?.decoded).toContain('has 3 new comments, the latest by Test User.');

    // Preferences off: no email for either kind.
    await setPreferences(reader, { email_on_comment: false, email_on_mention: false });
    await say(admin, `Again @${reader.user.username}`);
    await say(admin, 'And again');
    expect(await recordsOf(task)).toHaveLength(2);
  });

  it('sends one daily digest of open and overdue tasks to those who want it, however often it runs', async () => {
    const digester = await addMember(h.ctx.app, admin);
    await setPreferences(digester, { daily_digest: true });
    await createTask(admin, { title: 'Overdue thing', assigned_to: digester.user.id, due_date: '2020-01-01' });
    await createTask(admin, { title: 'Open thing', assigned_to: digester.user.id });
    await createTask(admin, { title: 'Closed thing', assigned_to: digester.user.id, status: 'done' });
    // Theirs while they were in its private project, which they have left since.
    const hidden = json<{ id: number }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Digest secret', is_private: true }),
    ).id;
    await call(admin, 'PUT', `/api/projects/${hidden}/members/${digester.user.id}/`, { role: 'member' });
    await setPreferences(digester, { daily_digest: true, email_on_assignment: false });
    await createTask(admin, { title: 'Hidden thing', assigned_to: digester.user.id, project: hidden });
    await call(admin, 'DELETE', `/api/projects/${hidden}/members/${digester.user.id}/`);
    const day = new Date('2031-02-03T08:00:00Z');
    const runs = await Promise.all([h.worker.recordDigests(day), h.worker.recordDigests(day)]);
    expect(runs.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await h.worker.recordDigests(day)).toBe(0);
    await h.sink.waitFor(() => h.sink.to(digester.user.email).some((m) => m.subject === 'Your tasks for 2031-02-03'));
    const digest = h.sink.to(digester.user.email).find((m) => m.subject === 'Your tasks for 2031-02-03');
    expect(digest?.decoded).toContain('Overdue thing (overdue)');
    expect(digest?.decoded).toContain('Open thing');
    expect(digest?.decoded).not.toContain('Closed thing');
    expect(digest?.decoded).not.toContain('Hidden thing');
    expect(digest?.decoded).toContain('2 open task(s), 1 overdue.');
  });

  it('emails nobody about a task of a project they do not see, nor once they have left it', async () => {
    const hidden = json<{ id: number }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Email secret', is_private: true }),
    ).id;
    await setPreferences(other, { email_on_assignment: true, email_on_status_change: true });
    const task = await createTask(admin, { title: 'Not for other', assigned_to: other.user.id, project: hidden });
    await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { status: 'done' });
    expect(await recordsOf(task)).toEqual([]);
    // Once they see it, they hear of it.
    await call(admin, 'PUT', `/api/projects/${hidden}/members/${other.user.id}/`, { role: 'viewer' });
    await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { status: 'todo' });
    expect((await recordsOf(task)).map((r) => [r.recipientId, r.kind])).toEqual([[other.user.id, 'status_changed']]);
    await h.sink.waitFor(() => h.sink.to(other.user.email).some((m) => m.subject.endsWith(': Not for other')));
    await settled();
    // Removed from the project while the next email waits for its delay: it is dropped unsent.
    await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { status: 'done' });
    expect((await recordsOf(task)).map((r) => r.status)).toEqual(['sent', 'pending']);
    await call(admin, 'DELETE', `/api/projects/${hidden}/members/${other.user.id}/`);
    await settled();
    expect((await recordsOf(task)).map((r) => r.status)).toEqual(['sent']);
    expect(h.sink.to(other.user.email).filter((m) => m.subject.endsWith(': Not for other'))).toHaveLength(1);
  });
});

describe(`notifications API (${TEST_DB})`, () => {
  let ctx: TestContext;
  let admin: Session;
  let member: Session;
  let stranger: Session;

  beforeAll(async () => {
    ctx = await createTestContext({ notificationDelaySeconds: 3600 });
    admin = await registerCompany(ctx.app);
    member = await addMember(ctx.app, admin);
    stranger = await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  const { call } = requestsTo(() => ctx.app);

  it('keeps preferences per person, defaults first; PUT needs version 1’s three, PATCH any', async () => {
    const url = '/api/notifications/preferences/';
    const defaults = {
      email_on_assignment: true,
      email_on_status_change: false,
      daily_digest: false,
      email_on_unblocked: true,
      email_on_mention: true,
      email_on_comment: false,
    };
    expect(json(await call(member, 'GET', url))).toEqual(defaults);
    const partialPut = await call(member, 'PUT', url, { daily_digest: true });
    expect(partialPut.statusCode).toBe(400);
    expect(Object.keys(json(partialPut))).toEqual(expect.arrayContaining(['email_on_assignment']));
    const v1 = { email_on_assignment: true, email_on_status_change: false, daily_digest: true };
    expect(json(await call(member, 'PUT', url, v1))).toEqual({ ...defaults, daily_digest: true });
    expect(json(await call(member, 'PATCH', url, { email_on_comment: true, email_on_mention: false }))).toEqual({
      ...defaults,
      daily_digest: true,
      email_on_comment: true,
      email_on_mention: false,
    });
    // A version 1 PUT leaves the later preferences as they were.
    expect(json(await call(member, 'PUT', url, v1))).toMatchObject({ email_on_comment: true, email_on_mention: false });
    expect(json(await call(member, 'PUT', url, { ...v1, email_on_mention: true }))).toMatchObject({
      email_on_mention: true,
    });
    expect(json(await call(member, 'PATCH', url, { email_on_unblocked: false }))).toMatchObject({
      daily_digest: true,
      email_on_unblocked: false,
    });
    expect(json(await call(admin, 'GET', url))).toEqual(defaults);
    const bad = await call(member, 'PATCH', url, { daily_digest: 'sometimes', colour: 'red' });
    expect(bad.statusCode).toBe(400);
    expect(Object.keys(json(bad))).toContain('daily_digest');
    expect((await call(member, 'PATCH', url, { email_on_comment: 'yes' })).statusCode).toBe(400);
    expect((await call(null, 'GET', url)).statusCode).toBe(401);
  });

  it('lists only the caller’s own emails, and a task’s emails only within its company', async () => {
    await call(member, 'PATCH', '/api/notifications/preferences/', { email_on_assignment: true });
    const created = await call(admin, 'POST', '/api/tasks/', { title: 'For the member', assigned_to: admin.user.id });
    const task = json<Task>(created);
    await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { assigned_to: member.user.id });
    const second = json<Task>(
      await call(admin, 'POST', '/api/tasks/', { title: 'Second', assigned_to: member.user.id }),
    );

    const mine = json<{ count: number; results: Notification[] }>(await call(member, 'GET', '/api/notifications/'));
    expect(mine.results.map((n) => n.task)).toEqual([second.id, task.id]);
    expect(mine.results.every((n) => n.recipient === member.user.email && n.status === 'pending')).toBe(true);
    expect(json(await call(admin, 'GET', '/api/notifications/'))).toMatchObject({ count: 0 });
    expect(json(await call(stranger, 'GET', '/api/notifications/'))).toMatchObject({ count: 0 });
    expect(json(await call(member, 'GET', `/api/notifications/?task=${task.id}&status=pending`))).toMatchObject({
      count: 1,
    });
    expect((await call(member, 'GET', '/api/notifications/?status=lost')).statusCode).toBe(400);

    expect(json(await call(admin, 'GET', `/api/tasks/${task.id}/notifications/`))).toMatchObject({
      count: 1,
      results: [{ recipient: member.user.email, subject: 'Assigned to you: For the member' }],
    });
    expect((await call(stranger, 'GET', `/api/tasks/${task.id}/notifications/`)).statusCode).toBe(404);
    expect((await call(admin, 'GET', '/api/tasks/2147483000/notifications/')).statusCode).toBe(404);
  });
});

describe(`an SMTP server that always refuses (${TEST_DB})`, () => {
  let h: Harness;
  afterAll(() => h.close());

  it('fails the email after five attempts, keeps the error, and sends it on a manual retry', async () => {
    // no wait between retries: the backoff itself is the job queue's, tested with it
    h = await harness(0);
    const admin = await registerCompany(h.ctx.app);
    const member = await addMember(h.ctx.app, admin);
    h.sink.failures = Number.POSITIVE_INFINITY;
    const created = await h.ctx.app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: bearer(admin.access),
      payload: { title: 'Never arrives', assigned_to: member.user.id },
    });
    const task = json<Task>(created);
    const record = () =>
      h.ctx.db
        .tenant(task.company, (tx) => q.listNotifications(tx, task.company, { taskId: task.id }, 1, 0))
        .then((rows) => rows[0]);
    // The record says failed before the job queue, which completes jobs in batches, does.
    await until(async () => (await h.jobs.list(['failed'])).length > 0, 25_000).catch(() => undefined);
    expect(await record()).toMatchObject({ status: 'failed', attempts: 5 });
    expect((await record())?.error).toContain('Mailbox temporarily unavailable');
    expect(h.sink.received).toEqual([]);

    const [failed] = await h.jobs.list(['failed']);
    expect(failed?.data).toEqual({ companyId: task.company, notificationId: (await record())?.id });
    h.sink.failures = 0;
    expect(await h.jobs.retry(failed?.id as string)).toBe(true);
    await h.sink.waitFor(() => h.sink.received.length === 1);
    await until(async () => (await record())?.status === 'sent').catch(() => undefined);
    expect(await record()).toMatchObject({ status: 'sent', attempts: 6, error: null });
  }, 45_000);
});
