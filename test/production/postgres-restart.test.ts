import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DB } from '../helpers.ts';
import { freePort, type ServerProcess, waitForHealthy } from '../process.ts';
import { scratchDir } from '../scratch.ts';
import { sleep } from '../timing.ts';
import {
  Balancer,
  describeProcess,
  PrivatePostgres,
  readProcfile,
  startProcess,
  stopProcess,
  timeUntil,
} from './processes.ts';
import { drfShapeProblem } from './support.ts';

/**
 * PostgreSQL restarts (pg_ctl stop -m fast, then start) under a steady load on an API process and a
 * worker from deploy/Procfile, on a PostgreSQL cluster of the test's own. While it is down every
 * request that needs it gets a 503 in DRF's shape (never a 500), /healthz stays 200 and /readyz
 * says 503 naming the database; once it is back both processes serve again by themselves, with no
 * restart. The test measures how soon.
 */

const OUTAGE_MS = 4_000;

describe.runIf(TEST_DB === 'postgres')('a PostgreSQL restart under load', () => {
  let cluster: PrivatePostgres;
  let api: ServerProcess;
  let worker: ServerProcess;

  beforeAll(async () => {
    const procfile = readProcfile();
    cluster = await PrivatePostgres.start();
    const env = {
      DATABASE_URL: await cluster.createDatabase('tasks'),
      JWT_SECRET: 'postgres-restart-secret-0123456789-0123456789',
      DATA_DIR: scratchDir('tasks-pg-restart-'),
      LOG_LEVEL: 'warn',
      RATE_LIMIT: '1000000',
      AUTH_RATE_LIMIT: '1000000',
      EXTERNAL_TASKS_URL: 'http://127.0.0.1:9/todos',
    };
    const [apiPort, workerPort] = [await freePort(), await freePort()];
    // The API process migrates the empty database first; the worker then finds it current.
    api = startProcess(procfile.api as string, { ...env, PORT: String(apiPort) }, apiPort);
    await waitForHealthy(api, 120_000);
    worker = startProcess(procfile.worker as string, { ...env, WORKER_PORT: String(workerPort) }, workerPort);
    await waitForHealthy(worker, 120_000);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([api, worker].filter(Boolean).map((p) => stopProcess(p, 10_000)));
    cluster?.destroy();
  });

  it('answers 503 in DRF shape while the database is down, never 500, and recovers by itself', async () => {
    const balancer = new Balancer([api.url], 10_000);
    const token = await balancer.registerCompany('Postgres Co');

    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const answers: Array<{ at: number; status: number }> = [];
    const acknowledged = new Set<number>();
    let running = true;
    const client = async (n: number) => {
      let step = 0;
      const mine: number[] = [];
      while (running) {
        step += 1;
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
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          answers.push({ at: performance.now(), status: answer.status });
          if (answer.status === 201) {
            const id = (answer.body as { id: number }).id;
            mine.push(id);
            acknowledged.add(id);
          }
          if (answer.status === 503) {
            const problem = drfShapeProblem(answer.headers.get('content-type') ?? undefined, answer.text);
            if (problem !== undefined) failures.push(`503 not DRF-shaped (${problem}): ${answer.text.slice(0, 200)}`);
          } else if (answer.status >= 300) {
            failures.push(`${answer.status} ${answer.text.slice(0, 200)}`);
          }
        } catch (error) {
          failures.push(`${String(error)} ${String((error as Error).cause ?? '')}`);
        }
        await sleep(20);
      }
    };
    const readiness = async (server: ServerProcess) => {
      const response = await fetch(`${server.url}/readyz`);
      return { status: response.status, body: await response.json() };
    };

    const load = Array.from({ length: 4 }, (_, n) => client(n));
    await sleep(1_000);

    const down = performance.now();
    cluster.stop('fast');
    const stopped = performance.now();
    await timeUntil(async () => (await readiness(api)).status === 503, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}: the API process ${describeProcess(api)}`);
    });
    expect(await readiness(api)).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { database: 'unavailable' } },
    });
    expect((await readiness(worker)).status).toBe(503);
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - down)));

    const restarting = performance.now();
    await cluster.start();
    const back = performance.now();
    const [apiReady = 0, workerReady = 0] = await Promise.all(
      [api, worker].map((server) => timeUntil(async () => (await readiness(server)).status === 200, 30_000)),
    );
    const firstSuccess = await timeUntil(async () => answers.some((a) => a.at > back && a.status < 300), 30_000, 10);
    await sleep(2_000);
    running = false;
    await Promise.all(load);

    const lastUnavailable = Math.max(...answers.filter((a) => a.status === 503).map((a) => a.at), back);
    // Once it served again it kept serving: no 503 after the first success plus the requests already in flight.
    const lateUnavailable = answers.filter((a) => a.status === 503 && a.at > back + firstSuccess + 1_000).length;
    const listed = await balancer.request('GET', '/api/tasks/?page_size=1', { token });
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(
      [
        `postgres restart: ${answers.length} requests (${[...statuses.entries()].map(([k, v]) => `${k}: ${v}`).join(', ')}), ${failures.length} failed; stopped in ${s(stopped - down)}, down for ${s(back - down)}`,
        `  pg_ctl start took ${s(back - restarting)}; after PostgreSQL accepted connections again: first 2xx under load in ${s(firstSuccess)}, /readyz 200 in ${s(apiReady)} (api) and ${s(workerReady)} (worker); last 503 ${s(lastUnavailable - back)} after it was back`,
        ...failures.slice(0, 10).map((f) => `  failed: ${f}`),
        // A 500 says nothing to the client; the process's log says what it was.
        ...(failures.length > 0 ? [`  the API process ${describeProcess(api)}`] : []),
      ].join('\n'),
    );
    expect(failures).toEqual([]);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(lateUnavailable).toBe(0);
    expect((listed.body as { count: number }).count).toBe(acknowledged.size);
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  }, 120_000);
});
