import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../databases.ts';
import { PASSWORD, TEST_DB, unique } from '../helpers.ts';
import { freePort, type ServerProcess, waitForHealthy } from '../process.ts';
import { scratchDir } from '../scratch.ts';
import { SmtpSink } from '../smtp.ts';
import { sleep } from '../timing.ts';
import { Balancer, PrivateRedis, readProcfile, startProcess, stopProcess } from './processes.ts';

/**
 * kill -9 of an API process and of the worker while 200 task creations (each assigning someone,
 * so each owes one email) are in flight. Creations whose connection died are retried on the other
 * API process with the same Idempotency-Key, as a client may. Afterwards, once the killed processes
 * are back: every create answered 201 is there, no key made two tasks, and each task's assignee got
 * exactly one email.
 */
describe.runIf(TEST_DB === 'postgres')('kill -9 of an API process and the worker during 200 creations', () => {
  const procfile = readProcfile();
  let redis: PrivateRedis;
  let sink: SmtpSink;
  let dropDatabase = async () => {};
  let env: Record<string, string>;
  const running: ServerProcess[] = [];

  const start = async (name: 'api' | 'worker') => {
    const port = await freePort();
    const portVariable = name === 'api' ? 'PORT' : 'WORKER_PORT';
    const process = startProcess(procfile[name] as string, { ...env, [portVariable]: String(port) }, port);
    running.push(process);
    return { process, port };
  };

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    sink = await new SmtpSink().start();
    const database = await createServerDatabase();
    dropDatabase = database.drop;
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      JWT_SECRET: 'kill-nine-secret-0123456789-0123456789-abc',
      DATA_DIR: scratchDir('tasks-kill9-'),
      SMTP_URL: sink.url,
      NOTIFICATION_DELAY_SECONDS: '1',
      NOTIFICATION_RETRY_DELAY_SECONDS: '1',
      // the killed worker's jobs are retried 3 s after they started, found within a second
      NOTIFICATION_SEND_TIMEOUT_SECONDS: '3',
      JOBS_MAINTENANCE_INTERVAL_SECONDS: '1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT: '1000000',
      AUTH_RATE_LIMIT: '1000000',
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => stopProcess(p, 10_000)));
    await redis?.stop();
    await sink?.close();
    await dropDatabase();
  });

  it('loses no acknowledged task and sends each task’s email exactly once', { timeout: 240_000 }, async () => {
    const [one, two, worker] = [await start('api'), await start('api'), await start('worker')];
    await Promise.all([one, two, worker].map(({ process }) => waitForHealthy(process, 120_000)));
    const balancer = new Balancer([`http://127.0.0.1:${one.port}`, `http://127.0.0.1:${two.port}`], 15_000, 60_000);

    const register = async (fields: Record<string, string>) => {
      const username = unique('k');
      const answer = await balancer.request('POST', '/api/auth/register/', {
        body: { username, email: `${username}@example.com`, password: PASSWORD, password_confirm: PASSWORD, ...fields },
      });
      expect(answer.status).toBe(201);
      return answer.body as { access: string; user: { id: number; email: string; company: { id: number } } };
    };
    const admin = await register({ company_name: unique('Kill Co ') });
    const invited = await balancer.request('POST', '/api/auth/invitations/', {
      token: admin.access,
      body: { email: `${unique('m')}@example.com` },
    });
    const member = await register({
      email: (invited.body as { email: string }).email,
      invitation_token: (invited.body as { token: string }).token,
    });

    // Sent a few at a time so that the kills land in the middle of the stream.
    const keys = Array.from({ length: 200 }, () => randomUUID());
    const answers = new Map<string, { status: number; id: number }>();
    let killed = false;
    const killAfter = 60;
    const create = async (key: string, n: number) => {
      const answer = await balancer.request('POST', '/api/tasks/', {
        token: admin.access,
        headers: { 'idempotency-key': key },
        body: { title: `Survivor ${n}`, assigned_to: member.user.id },
      });
      answers.set(key, { status: answer.status, id: (answer.body as { id: number }).id });
      if (!killed && answers.size >= killAfter) {
        killed = true;
        one.process.child.kill('SIGKILL');
        worker.process.child.kill('SIGKILL');
      }
    };
    const lanes = Array.from({ length: 20 }, async (_, lane) => {
      for (let n = lane; n < keys.length; n += 20) await create(keys[n] as string, n);
    });
    await Promise.all(lanes);
    expect(killed).toBe(true);
    expect([...answers.values()].filter((a) => a.status !== 201)).toEqual([]);
    expect(balancer.retried).toBeGreaterThan(0);

    // The killed processes come back; the worker's lost jobs are retried.
    const [again] = [await start('api'), await start('worker')];
    await waitForHealthy(again.process, 120_000);
    await sleep(1_000);

    const ids = [...new Set([...answers.values()].map((a) => a.id))];
    expect(ids).toHaveLength(200);
    const listed = await balancer.request('GET', '/api/tasks/?page_size=100&page=1', { token: admin.access });
    const listed2 = await balancer.request('GET', '/api/tasks/?page_size=100&page=2', { token: admin.access });
    const stored = [
      ...(listed.body as { results: Array<{ id: number }> }).results,
      ...(listed2.body as { results: Array<{ id: number }> }).results,
    ].map((t) => t.id);
    expect((listed.body as { count: number }).count).toBe(200);
    expect(new Set(stored)).toEqual(new Set(ids));

    const company = admin.user.company.id;
    await sink.waitFor(() => new Set(sink.received.map((m) => m.messageId)).size >= 200, 90_000);
    await sleep(4_000);
    const emails = await balancer.request('GET', '/api/notifications/?page_size=100', { token: member.access });
    expect((emails.body as { count: number }).count).toBe(200);
    const perTask = new Map<number, number>();
    for (const page of [1, 2]) {
      const answer = await balancer.request('GET', `/api/notifications/?page_size=100&page=${page}`, {
        token: member.access,
      });
      for (const n of (answer.body as { results: Array<{ task: number; status: string; id: number }> }).results) {
        expect(n.status).toBe('sent');
        perTask.set(n.task, (perTask.get(n.task) ?? 0) + 1);
        const delivered = sink.received.filter((m) => m.messageId === `notification-${company}-${n.id}@localhost`);
        expect(delivered.map((m) => m.to)).toEqual([[member.user.email]]);
      }
    }
    expect([...perTask.keys()].sort()).toEqual([...ids].sort());
    expect([...perTask.values()].every((n) => n === 1)).toBe(true);
    expect(sink.received).toHaveLength(200);
  });
});
