import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../databases.ts';
import { TEST_DB } from '../helpers.ts';
import { freePort, type ServerProcess, waitForHealthy } from '../process.ts';
import { scratchDir } from '../scratch.ts';
import { sleep } from '../timing.ts';
import { TestSocket } from '../ws.ts';
import { Balancer, PrivateRedis, readProcfile, startProcess, stopProcess, timeUntil } from './processes.ts';

/**
 * Redis goes away and comes back while two API processes (from deploy/Procfile, on PostgreSQL and
 * a Redis of the test's own) serve a steady load and each holds a socket of the same company.
 * While it is away the REST API keeps answering, /readyz says 503 naming Redis, and each process
 * still delivers its own writes to its own sockets. Once it is back, /readyz returns to 200, each
 * process closes its sockets with 1012 (they may have missed the other's events), and on the
 * sockets the client opens again events cross between the processes, with no restart: the test
 * measures how soon, and that the client's catch-up finds whatever its sockets missed.
 */

const OUTAGE_MS = 4_000;

type Task = { id: number };

describe.runIf(TEST_DB === 'postgres')('a Redis restart under load', () => {
  let redis: PrivateRedis;
  let dropDatabase = async () => {};
  const apis: ServerProcess[] = [];

  beforeAll(async () => {
    const procfile = readProcfile();
    redis = await PrivateRedis.start();
    const database = await createServerDatabase();
    dropDatabase = database.drop;
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      JWT_SECRET: 'redis-restart-secret-0123456789-0123456789',
      DATA_DIR: scratchDir('tasks-redis-restart-'),
      LOG_LEVEL: 'warn',
      RATE_LIMIT: '1000000',
      AUTH_RATE_LIMIT: '1000000',
      EXTERNAL_TASKS_URL: 'http://127.0.0.1:9/todos',
    };
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      apis.push(startProcess(procfile.api as string, { ...env, PORT: String(port) }, port));
    }
    await Promise.all(apis.map((p) => waitForHealthy(p, 120_000)));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(apis.map((p) => stopProcess(p, 10_000)));
    await redis?.stop();
    await dropDatabase();
  });

  it('keeps REST and per-process events going while Redis is down, says so in /readyz, and recovers by itself', async () => {
    const [one, two] = apis as [ServerProcess, ServerProcess];
    const balancer = new Balancer([one.url, two.url]);
    const token = await balancer.registerCompany('Redis Co');
    const sockets = await Promise.all(
      apis.map((api) => TestSocket.open(`${api.url.replace('http', 'ws')}/ws/tasks/`, { token })),
    );
    await Promise.all(sockets.map((s) => s.ofType('connection_established')));
    const received = (socket: TestSocket, id: number) =>
      socket.messages.some((m) => m.type === 'task_created' && (m.task as Task).id === id);
    const create = async (api: ServerProcess, title: string) => {
      const response = await fetch(`${api.url}/api/tasks/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ title }),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as Task).id;
    };
    const readiness = async (api: ServerProcess) => {
      const response = await fetch(`${api.url}/readyz`);
      return { status: response.status, body: (await response.json()) as { checks?: Record<string, string> } };
    };
    /** Creates through `from` until `to`'s socket gets the event (each try waits `waitMs`); resolves with how long it took. */
    const crossDelivery = (on: TestSocket[], from: number, to: number, waitMs: number) =>
      timeUntil(
        async () => {
          const id = await create(apis[from] as ServerProcess, `probe ${from}→${to}`);
          await (on[to] as TestSocket).next((m) => m.type === 'task_created' && (m.task as Task).id === id, waitMs);
          return true;
        },
        30_000,
        0,
      );

    // Across processes before anything happens.
    await crossDelivery(sockets, 0, 1, 5_000);
    await crossDelivery(sockets, 1, 0, 5_000);

    // A steady load over both processes, all through the outage.
    const failures: string[] = [];
    const created: Array<{ id: number; backend: number; started: number; at: number }> = [];
    let requests = 0;
    let running = true;
    const client = async (n: number) => {
      let step = 0;
      const mine: number[] = [];
      while (running) {
        step += 1;
        const started = performance.now();
        try {
          const answer =
            mine.length === 0 || step % 3 === 0
              ? await balancer.request('POST', '/api/tasks/', { token, body: { title: `load ${n}.${step}` } })
              : step % 3 === 1
                ? await balancer.request('GET', '/api/tasks/?page_size=5', { token })
                : await balancer.request('PATCH', `/api/tasks/${mine[step % mine.length]}/`, {
                    token,
                    body: { status: ['todo', 'done'][step % 2] },
                  });
          requests += 1;
          if (answer.status >= 300) failures.push(`${answer.status} ${answer.text.slice(0, 200)}`);
          else if (answer.status === 201) {
            const id = (answer.body as Task).id;
            mine.push(id);
            created.push({ id, backend: answer.backend, started, at: performance.now() });
          }
        } catch (error) {
          failures.push(String(error));
        }
        await sleep(20);
      }
    };
    const load = Array.from({ length: 4 }, (_, n) => client(n));
    await sleep(1_000);

    // Redis goes away.
    const down = performance.now();
    await redis.stop();
    const noticed = await Promise.all(
      apis.map((api) => timeUntil(async () => (await readiness(api)).status === 503, 10_000)),
    );
    for (const api of apis) {
      expect(await readiness(api)).toEqual({
        status: 503,
        body: { status: 'unavailable', checks: { database: 'ok', redis: 'unavailable' } },
      });
    }
    // Each process's own writes still reach its own sockets.
    const localDelivery: number[] = [];
    for (let i = 0; i < apis.length; i++) {
      const id = await create(apis[i] as ServerProcess, `while redis is down, through ${i + 1}`);
      const sent = performance.now();
      await (sockets[i] as TestSocket).next((m) => m.type === 'task_created' && (m.task as Task).id === id, 2_000);
      localDelivery.push(performance.now() - sent);
    }
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - down)));

    // Redis comes back; nothing is restarted. Each process, once subscribed again, closes its
    // sockets with 1012, since they may have missed the other's events; a client reconnects.
    const starting = performance.now();
    await redis.start();
    const back = performance.now();
    const closedAgo = await Promise.all(sockets.map((socket) => socket.waitClosed(30_000)));
    const closedAt = performance.now();
    const reopened = await Promise.all(
      apis.map((api) => TestSocket.open(`${api.url.replace('http', 'ws')}/ws/tasks/`, { token })),
    );
    await Promise.all(reopened.map((s) => s.ofType('connection_established')));
    const reopenedAt = performance.now();
    const [readyAgain, crossAgain, crossBack] = await Promise.all([
      Promise.all(apis.map((api) => timeUntil(async () => (await readiness(api)).status === 200, 30_000))),
      crossDelivery(reopened, 0, 1, 300),
      crossDelivery(reopened, 1, 0, 300),
    ]);
    await sleep(1_000);
    running = false;
    await Promise.all(load);
    await sleep(500);

    // Until Redis was starting again, every task created through a process reached that process's socket.
    const missedLocally = created.filter(
      ({ id, backend, at }) => at < starting && !received(sockets[backend] as TestSocket, id),
    );
    // Across processes, only what was created between Redis going and the sockets closing may be missing.
    const missedAcross = created.filter(({ id, backend }) => !received(sockets[1 - backend] as TestSocket, id));
    const missedAcrossBefore = missedAcross.filter(({ at }) => at < down);
    // Once reconnected, each socket gets every task whose creation started after it was open.
    const missedAfter = created.filter(
      ({ id, started }) => started > reopenedAt && reopened.some((socket) => !received(socket, id)),
    );
    // And a client's catch-up finds the rest, as the web app does it: from the last change its
    // socket showed or the moment the server said events went missing, whichever is earlier,
    // less a margin for transactions that committed out of order.
    const notCaughtUp: number[] = [];
    const missedSince: string[] = [];
    for (let i = 0; i < apis.length; i++) {
      const messages = (sockets[i] as TestSocket).messages;
      const times = messages
        .filter((m) => m.type === 'task_created' || m.type === 'task_updated')
        .map((m) => Date.parse((m.task as { updated_at: string }).updated_at));
      const missed = messages.find((m) => m.type === 'events_missed')?.since as string;
      missedSince.push(missed);
      const since = new Date(Math.min(Math.max(...times), Date.parse(missed)) - 5_000).toISOString();
      const caughtUp = new Set<number>();
      for (let page = 1; ; page++) {
        const answer = await balancer.request(
          'GET',
          `/api/tasks/?updated_after=${encodeURIComponent(since)}&page_size=100&page=${page}`,
          { token },
        );
        const body = answer.body as { results: Task[]; next: string | null };
        for (const task of body.results) caughtUp.add(task.id);
        if (body.next === null) break;
      }
      for (const { id } of created) {
        const seenHere = [sockets[i], reopened[i]].some((socket) => received(socket as TestSocket, id));
        if (!seenHere && !caughtUp.has(id)) notCaughtUp.push(id);
      }
    }
    for (const socket of reopened) socket.close();

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(
      [
        `redis restart: ${requests} requests under load, ${failures.length} failed; Redis down for ${s(back - down)}`,
        `  /readyz said 503 (redis unavailable) after ${noticed.map(s).join(' and ')}; own-process events while down arrived in ${localDelivery.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')}`,
        `  after Redis was back: sockets closed with ${closedAgo.map((c) => c.code).join(' and ')} within ${s(closedAt - back)}, reopened ${s(reopenedAt - closedAt)} later; /readyz 200 in ${readyAgain.map(s).join(' and ')}; events across processes on the new sockets in ${s(crossAgain)} (1→2) and ${s(crossBack)} (2→1)`,
        `  load-created tasks: ${created.length}; missed by their own process's socket before Redis was back: ${missedLocally.length}; missed across processes: ${missedAcross.length} (created before the outage: ${missedAcrossBefore.length}); missed by the new sockets: ${missedAfter.length}; found by neither socket nor catch-up: ${notCaughtUp.length}`,
        ...failures.slice(0, 10).map((f) => `  failed: ${f}`),
      ].join('\n'),
    );
    expect(failures).toEqual([]);
    expect(closedAgo).toEqual([
      { code: 1012, reason: 'Live updates were interrupted: reconnect and catch up' },
      { code: 1012, reason: 'Live updates were interrupted: reconnect and catch up' },
    ]);
    for (const since of missedSince) expect(Date.parse(since)).toBeLessThan(starting + performance.timeOrigin);
    expect(missedLocally).toEqual([]);
    expect(missedAcrossBefore).toEqual([]);
    expect(missedAfter).toEqual([]);
    expect(notCaughtUp).toEqual([]);
    expect(Math.max(crossAgain, crossBack)).toBeLessThan(10_000);
    for (const api of apis) expect(api.child.exitCode).toBeNull();
  }, 120_000);
});
