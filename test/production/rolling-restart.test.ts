import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../databases.ts';
import { TEST_DB } from '../helpers.ts';
import { freePort, type ServerProcess, waitForHealthy } from '../process.ts';
import { scratchDir } from '../scratch.ts';
import { sleep } from '../timing.ts';
import { type Answer, Balancer, PrivateRedis, readProcfile, startProcess, stopProcess } from './processes.ts';

/**
 * Production as deploy/Procfile describes it: two API processes and a worker on PostgreSQL and
 * Redis, started from the Procfile's own command lines. A client-side balancer sends a mixed load
 * round-robin (creates with Idempotency-Key, lists, reads, changes) while each API process in turn
 * gets SIGTERM, exits and starts again. A refused or reset connection is retried on the other
 * process, as a client may; anything else is a failure. Afterwards every acknowledged write must be
 * there in its last acknowledged state, and no retried create may have made a second task.
 */

const CLIENTS = 12;

type Task = Record<string, unknown> & { id: number; updated_at: string };

describe.runIf(TEST_DB === 'postgres')('a rolling restart of the API processes under load', () => {
  const procfile = readProcfile();
  let redis: PrivateRedis;
  let dropDatabase = async () => {};
  let env: Record<string, string>;
  const apis: ServerProcess[] = [];
  const ports: number[] = [];
  let worker: ServerProcess;

  beforeAll(async () => {
    expect(Object.keys(procfile)).toEqual(expect.arrayContaining(['api', 'worker']));
    redis = await PrivateRedis.start();
    const database = await createServerDatabase();
    dropDatabase = database.drop;
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      JWT_SECRET: 'rolling-restart-secret-0123456789-0123456789',
      DATA_DIR: scratchDir('tasks-rolling-'),
      LOG_LEVEL: 'warn',
      RATE_LIMIT: '1000000',
      AUTH_RATE_LIMIT: '1000000',
      EXTERNAL_TASKS_URL: 'http://127.0.0.1:9/todos',
    };
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      ports.push(port);
      apis.push(startProcess(procfile.api as string, { ...env, PORT: String(port) }, port));
    }
    const workerPort = await freePort();
    worker = startProcess(procfile.worker as string, { ...env, WORKER_PORT: String(workerPort) }, workerPort);
    await Promise.all([...apis, worker].map((p) => waitForHealthy(p, 120_000)));
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...apis, worker].filter(Boolean).map((p) => stopProcess(p, 10_000)));
    await redis?.stop();
    await dropDatabase();
  });

  it('loses no acknowledged write and fails no request while each API process restarts in turn', async () => {
    const balancer = new Balancer(
      ports.map((port) => `http://127.0.0.1:${port}`),
      10_000,
    );
    const token = await balancer.registerCompany('Rolling Co');

    /** Each task's last acknowledged state; a client changes only its own tasks, one request at a time. */
    const acknowledged = new Map<number, Task>();
    const failures: string[] = [];
    const counts = new Map<string, number>();
    const servedBy = [0, 0];
    let running = true;

    const expectStatus = (op: string, answer: Answer, status: number) => {
      counts.set(op, (counts.get(op) ?? 0) + 1);
      servedBy[answer.backend] = (servedBy[answer.backend] ?? 0) + 1;
      if (answer.status !== status) failures.push(`${op}: ${answer.status} ${answer.text.slice(0, 200)}`);
      return answer.status === status;
    };

    const client = async (n: number) => {
      const mine: number[] = [];
      let step = 0;
      while (running) {
        step += 1;
        try {
          if (mine.length === 0 || step % 4 === 1) {
            const created = await balancer.request('POST', '/api/tasks/', {
              token,
              body: { title: `client ${n} task ${step}`, priority: ['low', 'high'][step % 2] },
              headers: { 'idempotency-key': randomUUID() },
            });
            if (expectStatus('create', created, 201)) {
              const task = created.body as Task;
              acknowledged.set(task.id, task);
              mine.push(task.id);
            }
          } else if (step % 4 === 2) {
            expectStatus('list', await balancer.request('GET', '/api/tasks/?page_size=5', { token }), 200);
          } else if (step % 4 === 3) {
            const id = mine[step % mine.length] as number;
            const read = await balancer.request('GET', `/api/tasks/${id}/`, { token });
            // Read after write through the other process: the state last acknowledged, never an older one.
            if (expectStatus('get', read, 200) && JSON.stringify(read.body) !== JSON.stringify(acknowledged.get(id))) {
              failures.push(`get ${id}: stale ${read.text} vs ${JSON.stringify(acknowledged.get(id))}`);
            }
          } else {
            const id = mine[step % mine.length] as number;
            const changed = await balancer.request('PATCH', `/api/tasks/${id}/`, {
              token,
              body: { title: `client ${n} task ${id} v${step}`, status: ['todo', 'in_progress', 'done'][step % 3] },
            });
            if (expectStatus('patch', changed, 200)) acknowledged.set(id, changed.body as Task);
          }
        } catch (error) {
          failures.push(`client ${n} step ${step}: ${String(error)} ${String((error as Error).cause ?? '')}`);
        }
      }
    };

    const load = Array.from({ length: CLIENTS }, (_, n) => client(n));
    const restarts: string[] = [];
    const signalled: Array<{ backend: number; at: number }> = [];
    await sleep(2_000);
    for (let i = 0; i < apis.length; i++) {
      const started = performance.now();
      signalled.push({ backend: i, at: started });
      const code = await stopProcess(apis[i] as ServerProcess);
      const stopped = performance.now();
      expect(code, apis[i]?.output()).toBe(0);
      const port = ports[i] as number;
      apis[i] = startProcess(procfile.api as string, { ...env, PORT: String(port) }, port);
      await waitForHealthy(apis[i] as ServerProcess, 120_000);
      restarts.push(
        `api ${i + 1}: stopped in ${((stopped - started) / 1000).toFixed(1)} s, serving again ${((performance.now() - stopped) / 1000).toFixed(1)} s later`,
      );
      await sleep(2_000);
    }
    running = false;
    await Promise.all(load);

    // Every acknowledged write is there, as last acknowledged; retried creates made nothing twice.
    const lost: string[] = [];
    for (const [id, task] of acknowledged) {
      const read = await balancer.request('GET', `/api/tasks/${id}/`, { token });
      if (read.status !== 200 || JSON.stringify(read.body) !== JSON.stringify(task)) {
        lost.push(`${id}: ${read.status} ${read.text.slice(0, 200)} vs ${JSON.stringify(task)}`);
      }
    }
    const listed = await balancer.request('GET', '/api/tasks/?page_size=1', { token });
    const count = (listed.body as { count: number }).count;
    const workerReady = await fetch(`${worker.url}/readyz`);

    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    // Requests that a process had taken in when it got SIGTERM, and answered before exiting.
    const inFlight = signalled.map(
      ({ backend, at }) =>
        balancer.timeline.filter((r) => r.backend === backend && r.sent < at && r.answered > at).length,
    );
    console.log(
      [
        `rolling restart: ${total} requests (${[...counts.entries()].map(([op, n]) => `${op} ${n}`).join(', ')}), served by api 1: ${servedBy[0]}, api 2: ${servedBy[1]}`,
        `  connection failures retried on the other process: ${balancer.retried}; requests in flight at SIGTERM and answered: ${inFlight.join(', ')}`,
        ...restarts.map((r) => `  ${r}`),
        `  failed requests: ${failures.length}; acknowledged writes lost: ${lost.length} of ${acknowledged.size} tasks; tasks in the database: ${count}`,
        ...failures.slice(0, 10).map((f) => `  failed: ${f}`),
        ...lost.slice(0, 10).map((l) => `  lost: ${l}`),
      ].join('\n'),
    );
    expect(failures).toEqual([]);
    expect(lost).toEqual([]);
    expect(count).toBe(acknowledged.size);
    expect(workerReady.status).toBe(200);
    expect(worker.child.exitCode).toBeNull();
  }, 180_000);
});
