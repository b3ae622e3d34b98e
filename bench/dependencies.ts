/**
 * Dependencies at scale, on the PostgreSQL at 5432 through the API of a server process: one company
 * of 100,000 tasks, 90 chains of 1,000 tasks (each waits for the one before), and a hub task that
 * 5,000 others wait for (each assigned, so each unblocking records an email).
 * - add: a free task made to wait for the last task of a chain, one request at a time: the cycle
 *   check walks the 1,000-long chain above it. p50/p99 of the request (goal: p99 under 20 ms);
 * - refused: a chain's first task made to wait for its last (a cycle 1,001 long): the 400's time;
 * - hub done: the PATCH's time (goal under 500 ms) and the time until an admin's socket has had
 *   the 5,000 `task_updated` events with is_blocked false (goal: within 2 s).
 * BENCH_COMPARE=<another checkout of the same schema> starts that checkout's server too, on the same
 * database, and the adds and refusals alternate between the two servers, one request at a time, so
 * that both meet the same machine.
 * BENCH_HUB_ROUNDS=n does the hub's part n times (done, reopened, done…; each server in turn when
 * comparing) and quotes the medians.
 * Usage: [BENCH_COMPARE=dir] [BENCH_HUB_ROUNDS=n] npx tsx bench/dependencies.ts [adds=300]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { WebSocket } from 'ws';
import { SEED_PASSWORD, seedAccounts } from '../src/accounts/seed.ts';
import { openPostgres } from '../src/platform/db/index.ts';
import { seedTasks } from '../src/tasks/seed.ts';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../test/process.ts';

const ADDS = Number(process.argv[2] ?? 300);
const TASKS = 100_000;
const CHAINS = 90;
const CHAIN = 1_000;
const WAITING = 5_000;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

const created = await createServerDatabase({ empty: true });
const db = openPostgres({ url: created.url, poolSize: 2 });
const dataDir = mkdtempSync(path.join(tmpdir(), 'deps-bench-'));
let stop = async () => {};
try {
  console.log(
    `seeding ${TASKS.toLocaleString('en')} tasks, ${CHAINS} chains of ${CHAIN}, a hub blocking ${WAITING} ...`,
  );
  await db.migrate();
  const [company] = await seedAccounts(db, { companies: 1, usersPerCompany: 5 });
  if (company === undefined) throw new Error('no company seeded');
  await seedTasks(db, { companyIds: [company.id], tasksPerCompany: TASKS });
  const client = db.client as pg.Pool;
  const member = company.admin.replace(/_admin$/, '_user1');
  const [{ id: memberId }] = (
    await client.query('select id from users where company_id = $1 and username = $2', [company.id, member])
  ).rows as [{ id: number }];
  // The hub and its waiting tasks among the open ones; chains and free tasks among the rest.
  const open = (
    await client.query(`select id from tasks where company_id = $1 and status = 'todo' order by id limit $2`, [
      company.id,
      WAITING + 1,
    ])
  ).rows.map((r: { id: number }) => r.id);
  const [hub, ...waiting] = open as [number, ...number[]];
  const rest = (
    await client.query('select id from tasks where company_id = $1 and id <> all($2::int[]) order by id', [
      company.id,
      open,
    ])
  ).rows.map((r: { id: number }) => r.id);
  const chained = rest.slice(0, CHAINS * CHAIN);
  const free = rest.slice(CHAINS * CHAIN);
  await client.query(
    `insert into task_dependencies (company_id, task_id, blocker_id)
     select $1, c.id, prev.id from unnest($2::int[]) with ordinality c(id, n)
       join unnest($2::int[]) with ordinality prev(id, n) on prev.n = c.n - 1
     where (c.n - 1) % ${CHAIN} <> 0`,
    [company.id, chained],
  );
  await client.query('update tasks set assigned_to = $2 where company_id = $1 and id = any($3::int[])', [
    company.id,
    memberId,
    waiting,
  ]);
  await client.query(
    `insert into task_dependencies (company_id, task_id, blocker_id) select $1, w, $2 from unnest($3::int[]) w`,
    [company.id, hub, waiting],
  );
  await client.query('vacuum analyze');

  const env = {
    DATABASE_URL: created.url,
    JWT_SECRET: 'bench-secret-0123456789-0123456789-0123456789',
    AUTH_RATE_LIMIT: '1000000',
    RATE_LIMIT: '1000000',
    LOG_LEVEL: 'warn',
    // The hub's 5,000 emails are sent after the measuring (and the rounds' are deleted unsent).
    NOTIFICATION_DELAY_SECONDS: '3600',
  };
  const compare = process.env.BENCH_COMPARE;
  const servers: Array<{ name: string; process: ServerProcess }> = [];
  for (const { name, script } of [
    { name: 'this checkout', script: 'src/main.ts' },
    ...(compare === undefined ? [] : [{ name: compare, script: path.join(path.resolve(compare), 'src/main.ts') }]),
  ]) {
    const port = String(await freePort());
    servers.push({
      name,
      process: startServer({ ...env, PORT: port, DATA_DIR: mkdtempSync(path.join(dataDir, 'server-')) }, script),
    });
  }
  stop = async () => {
    for (const { process: server } of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map(({ process: server }) => server.exited));
  };
  interface Api {
    name: string;
    url: string;
    access: string;
    patch: (id: number, body: object, expected: number) => Promise<void>;
    adds: number[];
    refused: number[];
  }
  const apis: Api[] = [];
  for (const { name, process: server } of servers) {
    await waitForHealthy(server);
    const login = await fetch(`${server.url}/api/auth/login/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: company.admin, password: SEED_PASSWORD }),
    });
    const { access } = (await login.json()) as { access: string };
    const patch = async (id: number, body: object, expected: number) => {
      const response = await fetch(`${server.url}/api/tasks/${id}/`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status !== expected) throw new Error(`PATCH ${id}: ${response.status} ${text}`);
    };
    apis.push({ name, url: server.url, access, patch, adds: [] as number[], refused: [] as number[] });
  }
  const [{ access }] = apis as [Api];
  // Unmeasured: each pooled connection's first parse, the JIT.
  let nextFree = 0;
  for (const { patch } of apis) {
    for (let i = 0; i < 20; i++)
      await patch(free[nextFree++] as number, { blocked_by: [chained[CHAIN - 1] as number] }, 200);
  }
  for (let i = 0; i < ADDS; i++) {
    const tail = chained[((i % CHAINS) + 1) * CHAIN - 1] as number;
    for (const { patch, adds } of apis)
      adds.push(await timed(() => patch(free[nextFree++] as number, { blocked_by: [tail] }, 200)));
  }
  for (let c = 0; c < 20; c++) {
    const head = chained[c * CHAIN] as number;
    const tail = chained[(c + 1) * CHAIN - 1] as number;
    for (const { patch, refused } of apis) refused.push(await timed(() => patch(head, { blocked_by: [tail] }, 400)));
  }
  for (const { name, adds, refused } of apis) {
    // Where the tail is: the slowest adds by their place in the run (a warming-up shows as low places).
    const slowest = adds
      .map((ms, i) => ({ ms, i }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, Math.max(3, Math.ceil(ADDS / 50)));
    adds.sort((a, b) => a - b);
    refused.sort((a, b) => a - b);
    console.log(`${name}:`);
    console.log(
      `  add a dependency below a 1,000-long chain (${ADDS}, one at a time): p50 ${percentile(adds, 0.5).toFixed(1)} ms, p99 ${percentile(adds, 0.99).toFixed(1)} ms; slowest ${slowest.map(({ ms, i }) => `#${i} ${ms.toFixed(0)}`).join(', ')}`,
    );
    console.log(
      `  refuse a cycle 1,001 long (20): p50 ${percentile(refused, 0.5).toFixed(1)} ms, max ${(refused.at(-1) ?? 0).toFixed(1)} ms`,
    );
  }

  // Each round: the hub done, its 5,000 waiting tasks announced unblocked, then the hub reopened
  // and them announced blocked again, by one server (taking turns when comparing), watched on an
  // admin's socket to that server. A round's emails and inbox items are deleted before the next,
  // so that each records as many as the first (rather than folding into them).
  const sockets = await Promise.all(
    apis.map(async ({ url }) => {
      const socket = new WebSocket(`${url.replace('http', 'ws')}/ws/tasks/?token=${access}`);
      await new Promise((resolve) => socket.once('message', resolve));
      return socket;
    }),
  );
  const told = (socket: WebSocket, blocked: boolean) => {
    const pending = new Set(waiting);
    let lastAt = 0;
    const all = new Promise<void>((resolve) => {
      const listen = (data: unknown) => {
        const event = JSON.parse(String(data)) as { type: string; task?: { id: number; is_blocked: boolean } };
        if (event.type === 'task_updated' && event.task?.is_blocked === blocked && pending.delete(event.task.id)) {
          lastAt = performance.now();
          if (pending.size === 0) {
            socket.off('message', listen);
            resolve();
          }
        }
      };
      socket.on('message', listen);
    });
    return async () => {
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 30_000))]);
      return { told: WAITING - pending.size, lastAt };
    };
  };
  const round = async (server: number, status: string, blocked: boolean) => {
    // What the last write left running once its events were out (its inbox items' pushes, the job
    // recording its emails) is done by then: each write meets an idle server.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const allTold = told(sockets[server] as WebSocket, blocked);
    const started = performance.now();
    await (apis[server] as Api).patch(hub, { status }, 200);
    const written = performance.now() - started;
    const { told: n, lastAt } = await allTold();
    return { written, n, last: lastAt - started };
  };
  const rounds = Number(process.env.BENCH_HUB_ROUNDS ?? 1);
  const hubTimes = apis.map(() => ({ done: [] as number[], last: [] as number[], reopened: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (let server = 0; server < apis.length; server++) {
      const times = hubTimes[server] as (typeof hubTimes)[number];
      const name = (apis[server] as Api).name;
      await client.query('delete from notifications where company_id = $1', [company.id]);
      await client.query('delete from inbox_items where company_id = $1', [company.id]);
      const d = await round(server, 'done', false);
      times.done.push(d.written);
      times.last.push(d.last);
      console.log(
        `${name}: hub done: the write ${d.written.toFixed(0)} ms; ${d.n} of ${WAITING} unblocked tasks announced, the last ${d.last.toFixed(0)} ms after the request`,
      );
      if (r === rounds - 1 && server === apis.length - 1) break;
      const o = await round(server, 'todo', true);
      times.reopened.push(o.written);
      console.log(
        `${name}: hub reopened: the write ${o.written.toFixed(0)} ms; ${o.n} of ${WAITING} blocked again, the last ${o.last.toFixed(0)} ms after the request`,
      );
    }
  }
  if (rounds > 1) {
    for (const [server, times] of hubTimes.entries()) {
      const median = (values: number[]) =>
        percentile(
          [...values].sort((a, b) => a - b),
          0.5,
        ).toFixed(0);
      console.log(
        `${(apis[server] as Api).name}, ${rounds} rounds: hub done, median write ${median(times.done)} ms, last event ${median(times.last)} ms; reopened, median write ${median(times.reopened)} ms`,
      );
    }
  }
  for (const socket of sockets) socket.close();
} finally {
  await stop();
  await db.close();
  await created.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
