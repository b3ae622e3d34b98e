import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createTestContext,
  queueSettled,
  registerCompany,
  type Session,
  TEST_DB,
  type TestContext,
} from '../../test/helpers.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../../test/process.ts';
import { scratchDir } from '../../test/scratch.ts';
import { SmtpSink } from '../../test/smtp.ts';
import { queryRows } from '../platform/db/index.ts';
import { QUEUES } from './jobs.ts';

/**
 * Real worker processes (ROLE=worker, what `npm start` runs) on PostgreSQL sending to a real SMTP
 * server in the test, while this process plays the API that records the emails.
 */
describe.runIf(TEST_DB === 'postgres')('email workers as processes', () => {
  let ctx: TestContext;
  let sink: SmtpSink;
  let admin: Session;
  let member: Session;
  const workers: ServerProcess[] = [];

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    // Queue settings live in the database, so the API and the workers are configured alike.
    ctx = await createTestContext({
      notificationDelaySeconds: 1,
      notificationRetryDelaySeconds: 1,
      notificationSendTimeoutSeconds: 3,
    });
    admin = await registerCompany(ctx.app);
    member = await addMember(ctx.app, admin);
  });
  afterAll(async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await ctx.close();
    await sink.close();
  });

  async function startWorker(): Promise<ServerProcess> {
    const worker = startServer({
      ROLE: 'worker',
      PORT: String(await freePort()),
      DATA_DIR: scratchDir('tasks-worker-'),
      DATABASE_URL: ctx.url as string,
      JWT_SECRET: 'workers-test-secret-0123456789-0123456789',
      SMTP_URL: sink.url,
      // a job of a killed worker is retried 3 s after it started, found within a second, after 1-2 s
      NOTIFICATION_SEND_TIMEOUT_SECONDS: '3',
      NOTIFICATION_RETRY_DELAY_SECONDS: '1',
      JOBS_MAINTENANCE_INTERVAL_SECONDS: '1',
      LOG_LEVEL: 'warn',
    });
    workers.push(worker);
    await waitForHealthy(worker);
    return worker;
  }

  /** Emails to the member about n new tasks, all due at about the same moment. */
  async function recordEmails(n: number, label: string): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers: bearer(admin.access),
        payload: { title: `${label} ${i}`, assigned_to: member.user.id },
      });
      expect(response.statusCode).toBe(201);
      ids.push((response.json() as { id: number }).id);
    }
    return ids;
  }

  const records = (taskIds: number[]) =>
    ctx.db.unsafeSystem((tx) =>
      queryRows<{ id: number; status: string; handed_over_at: Date | null }>(
        tx,
        sql`select id, status, handed_over_at from notifications where task_id = any(${`{${taskIds.join(',')}}`}::int[])`,
      ),
    );

  /** How many times the SMTP server accepted each of these records' emails. */
  function deliveries(companyId: number, ids: number[]): number[] {
    return ids.map(
      (id) => sink.received.filter((m) => m.messageId === `notification-${companyId}-${id}@localhost`).length,
    );
  }

  it('two workers share the emails and send none twice', { timeout: 180_000 }, async () => {
    await Promise.all([startWorker(), startWorker()]);
    const tasks = await recordEmails(100, 'Shared');
    const rows = await records(tasks);
    expect(rows).toHaveLength(100);
    await sink.waitFor(() => sink.received.length >= 100, 60_000);
    // Once no email job waits or runs, no email can go again.
    await queueSettled(ctx.jobs, QUEUES.send, 60_000);
    expect(
      deliveries(
        admin.user.company.id,
        rows.map((r) => r.id),
      ),
    ).toEqual(rows.map(() => 1));
    expect((await records(tasks)).every((r) => r.status === 'sent')).toBe(true);
  });

  it('after kill -9 of a worker mid-batch and a restart, every email goes exactly once', {
    timeout: 180_000,
  }, async () => {
    for (const worker of workers.splice(0)) {
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    }
    const before = sink.received.length;
    // slow answers keep a batch in flight when the kill comes
    sink.answerDelayMs = 100;
    const victim = await startWorker();
    const tasks = await recordEmails(120, 'Crash');
    await sink.waitFor(() => sink.received.length >= before + 30, 60_000);
    victim.child.kill('SIGKILL');
    await victim.exited;
    const rows = await records(tasks);
    const unsent = rows.filter((r) => r.status !== 'sent').length;
    expect(unsent).toBeGreaterThan(0);

    sink.answerDelayMs = 0;
    await startWorker();
    await sink.waitFor(() => new Set(sink.received.slice(before).map((m) => m.messageId)).size >= 120, 90_000);
    // Once no email job waits or runs, no email can go again.
    await queueSettled(ctx.jobs, QUEUES.send, 60_000);
    expect(
      deliveries(
        admin.user.company.id,
        rows.map((r) => r.id),
      ),
    ).toEqual(rows.map(() => 1));
    expect((await records(tasks)).every((r) => r.status === 'sent')).toBe(true);
  });

  it('a SIGTERM lets the running sends finish before the worker exits', { timeout: 120_000 }, async () => {
    for (const worker of workers.splice(0)) worker.child.kill('SIGKILL');
    const before = sink.received.length;
    sink.answerDelayMs = 300;
    const worker = await startWorker();
    const tasks = await recordEmails(30, 'Stopping');
    await sink.waitFor(() => sink.received.length > before, 30_000);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    // nothing was left handed over but unrecorded
    expect((await records(tasks)).filter((r) => r.handed_over_at !== null && r.status !== 'sent')).toEqual([]);
    sink.answerDelayMs = 0;
    await startWorker();
    const rows = await records(tasks);
    await sink.waitFor(
      () =>
        deliveries(
          admin.user.company.id,
          rows.map((r) => r.id),
        ).every((n) => n > 0),
      60_000,
    );
    // Once no email job waits or runs, no email can go again.
    await queueSettled(ctx.jobs, QUEUES.send, 60_000);
    expect(
      deliveries(
        admin.user.company.id,
        rows.map((r) => r.id),
      ),
    ).toEqual(rows.map(() => 1));
  });
});

describe.runIf(TEST_DB === 'postgres')('a worker killed in the middle of handing an email over', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await new SmtpSink().start();
  });
  afterAll(() => sink.close());

  async function dieWhileHandingOver(kill: 'after-complete' | 'before-complete'): Promise<void> {
    const dying = startServer({ SMTP_URL: sink.url, KILL: kill }, 'test/fixtures/hand-over-then-die.ts');
    await dying.exited;
    expect(dying.child.signalCode).toBe('SIGKILL');
  }

  it('has the email’s end on its way once complete() returns: the server gets the whole message', async () => {
    await dieWhileHandingOver('after-complete');
    await sink.waitFor(() => sink.received.some((m) => m.messageId === 'killed-after-complete@localhost'), 10_000);
  });

  it('leaves the server an unfinished message, which it drops, when it dies before complete()', async () => {
    await dieWhileHandingOver('before-complete');
    // the first case shows the server has the time to take in a message whose sender died
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(sink.received.filter((m) => m.messageId === 'killed-before-complete@localhost')).toEqual([]);
  });
});
