/**
 * The task endpoints under load: 100,000 tasks in the caller's company among 1,000
 * companies, 50 connections. For each endpoint, in the same run: the server's req/s, p50 and p99
 * (autocannon), then pgbench replaying the exact SQL that endpoint sent (captured from the driver,
 * transaction and tenant settings included), so the ratio endpoint / database is like for like.
 * Each endpoint is warmed up for 2 s first.
 * BENCH_DB=embedded runs the server as `npm start` does, on its embedded PostgreSQL in a DATA_DIR
 * seeded the same way (pgbench then replays on that server, through its socket); by default the
 * server runs on a database of the PostgreSQL at 5432.
 * Usage: [BENCH_DB=embedded] [BENCH_ONLY=regex] [BENCH_PGBENCH=like-endpoint] npx tsx bench/tasks.ts [seconds=10]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type pg from 'pg';
import { SEED_PASSWORD, seedAccounts } from '../src/accounts/seed.ts';
import type { Auth } from '../src/platform/auth.ts';
import { embeddedUrl } from '../src/platform/db/embedded.ts';
import { type Database, openEmbedded, openPostgres } from '../src/platform/db/index.ts';
import { pageRequest } from '../src/platform/pagination.ts';
import { seedTasks } from '../src/tasks/seed.ts';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, startServer, waitForHealthy } from '../test/process.ts';
import { sqlOnlyTasksService } from './tasks-service.ts';

const duration = Number(process.argv[2] ?? 10);
/** Only the endpoints whose names match (e.g. BENCH_ONLY='tasks/$|statistics'). */
const only = new RegExp(process.env.BENCH_ONLY ?? '');
/**
 * How pgbench replays the SQL: by default each statement in turn with the simple protocol (parsed
 * and planned every time), as this benchmark always has; `like-endpoint` prepares each statement
 * once per connection and pipelines what the endpoint pipelines, so the ratio is Node's overhead alone.
 */
const likeEndpoint = process.env.BENCH_PGBENCH === 'like-endpoint';
const CONNECTIONS = 50;
const TASKS = 100_000;
/** A task of the caller's company for GET and PATCH; PATCH in pgbench spreads over :id instead. */
const SAMPLE_ID = 54_321;

/** pipelined: sent without waiting for the answer to the one before (tenantQuery's BEGIN, statement, COMMIT). */
type Statement = { text: string; values: unknown[]; pipelined: boolean };

/** Records every statement the pool's clients send, to replay it with pgbench. */
function capture(pool: pg.Pool) {
  let log: Statement[] | undefined;
  const patched = new WeakSet<pg.PoolClient>();
  // On checkout, not on connect: the pool's clients from the seeding are reused, and were never new.
  pool.on('acquire', (client) => {
    if (patched.has(client)) return;
    patched.add(client);
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [first, second] = args;
      const config = typeof first === 'string' ? { text: first } : (first as { text: string; values?: unknown[] });
      const values = config.values ?? second ?? [];
      const text = config.text;
      const pipelined = (client as unknown as { pipeline?: boolean }).pipeline === true;
      log?.push({ text, values: Array.isArray(values) ? values : [], pipelined });
      return original(...args);
    };
  });
  return async (fn: () => Promise<unknown>): Promise<Statement[]> => {
    log = [];
    await fn();
    const recorded = log;
    log = undefined;
    return recorded;
  };
}

const literal = (value: unknown) => {
  if (value === null || value === undefined) return 'null';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return `'${text.replace(/'/g, "''")}'`;
};

/**
 * One pgbench transaction: the statements with their parameters inlined, :id for the sample task.
 * Like the endpoint (BENCH_PGBENCH=like-endpoint), statements the endpoint pipelines are pipelined
 * and every statement is prepared once per connection, as the endpoint's named statements are.
 */
function pgbenchScript(statements: Statement[], likeEndpoint: boolean): string {
  const lines: string[] = [`\\set id random(1, ${TASKS})`];
  let inPipeline = false;
  for (const { text, values, pipelined } of statements) {
    if (likeEndpoint && pipelined !== inPipeline) {
      lines.push(pipelined ? '\\startpipeline' : '\\endpipeline');
      inPipeline = pipelined;
    }
    const inlined = text.replace(/\$(\d+)/g, (_m, n: string) => {
      const value = values[Number(n) - 1];
      return value === SAMPLE_ID ? ':id' : literal(value);
    });
    lines.push(`${inlined.replace(/\s+/g, ' ').trim()};`);
  }
  if (inPipeline) lines.push('\\endpipeline');
  return lines.join('\n');
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

function runPgbench(url: string, script: string, likeEndpoint: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgbench-'));
  const file = path.join(dir, 'script.sql');
  writeFileSync(file, script);
  const output = execFileSync(
    'pgbench',
    [
      '-n',
      '-c',
      String(CONNECTIONS),
      '-j',
      '2',
      '-T',
      String(duration),
      '-l',
      '--log-prefix',
      path.join(dir, 'log'),
      ...(likeEndpoint ? ['-M', 'prepared'] : []),
      '-f',
      file,
      url,
    ],
    { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1] ?? 0);
  const latencies = readdirSync(dir)
    .filter((f) => f.startsWith('log'))
    .flatMap((f) =>
      readFileSync(path.join(dir, f), 'utf8')
        .trim()
        .split('\n')
        .map((line) => Number(line.split(' ')[2]) / 1000),
    )
    .sort((a, b) => a - b);
  return { tps, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const embedded = process.env.BENCH_DB === 'embedded';
const dataDir = mkdtempSync(path.join(tmpdir(), 'tasks-bench-'));
const created = embedded ? undefined : await createServerDatabase({ empty: true });
// Embedded: seeded through the app's own server, then reached beside the app's process once it runs.
let db: Database =
  created === undefined ? await openEmbedded({ dataDir }) : openPostgres({ url: created.url, poolSize: 2 });
const server = { stop: async () => {} };
try {
  console.log(
    `seeding 1,000 companies, 100,000 tasks in the first, 100 in each other (${embedded ? 'embedded' : 'postgres'}) ...`,
  );
  await db.migrate();
  const companies = await seedAccounts(db, { companies: 1000, usersPerCompany: 5 });
  const [first, ...others] = companies;
  if (first === undefined) throw new Error('no company seeded');
  await seedTasks(db, { companyIds: [first.id], tasksPerCompany: TASKS });
  await seedTasks(db, { companyIds: others.map((c) => c.id), tasksPerCompany: 100 });
  await db.client.query('vacuum analyze');

  const env: Record<string, string> = {
    PORT: String(await freePort()),
    DATA_DIR: dataDir,
    AUTH_RATE_LIMIT: '1000000',
    RATE_LIMIT: '1000000',
    LOG_LEVEL: 'warn',
    ...(created === undefined
      ? {}
      : { DATABASE_URL: created.url, JWT_SECRET: 'bench-secret-0123456789-0123456789-0123456789' }),
  };
  if (embedded) await db.close();
  const process_ = startServer(env);
  server.stop = async () => {
    process_.child.kill('SIGTERM');
    await process_.exited;
  };
  await waitForHealthy(process_);
  const url = created?.url ?? embeddedUrl(dataDir);
  if (url === undefined) throw new Error(`DATA_DIR ${dataDir} is too long a path for a socket`);
  if (embedded) db = openPostgres({ url, poolSize: 2 });
  const record = capture(db.client);
  const login = await fetch(`${process_.url}/api/auth/login/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: first.admin, password: SEED_PASSWORD }),
  });
  const { access } = (await login.json()) as { access: string };
  const profile = (await (
    await fetch(`${process_.url}/api/auth/profile/`, { headers: { authorization: `Bearer ${access}` } })
  ).json()) as { id: number };
  const auth: Auth = { userId: profile.id, companyId: first.id };
  const service = sqlOnlyTasksService(db);
  const page = pageRequest({});
  const headers = { authorization: `Bearer ${access}`, 'content-type': 'application/json' };

  const cases: Array<{ name: string; request: autocannon.Request; sql: () => Promise<unknown> }> = [
    {
      name: 'GET /api/auth/profile/ (baseline)',
      request: { method: 'GET', path: '/api/auth/profile/' },
      sql: () => service.get(auth, SAMPLE_ID),
    },
    {
      name: 'GET /api/tasks/',
      request: { method: 'GET', path: '/api/tasks/' },
      sql: () => service.listTasks(auth, {}, page),
    },
    {
      name: 'GET /api/tasks/?search=review invoices',
      request: { method: 'GET', path: '/api/tasks/?search=review%20invoices' },
      sql: () => service.listTasks(auth, { search: 'review invoices' }, page),
    },
    {
      name: 'GET /api/tasks/?status=done',
      request: { method: 'GET', path: '/api/tasks/?status=done' },
      sql: () => service.listTasks(auth, { status: 'done' }, page),
    },
    {
      name: 'GET /api/tasks/{id}/',
      request: { method: 'GET', path: `/api/tasks/${SAMPLE_ID}/` },
      sql: () => service.get(auth, SAMPLE_ID),
    },
    {
      name: 'POST /api/tasks/',
      request: { method: 'POST', path: '/api/tasks/', body: JSON.stringify({ title: 'Bench task', priority: 'high' }) },
      sql: () => service.create(auth, { title: 'Bench task', priority: 'high' }),
    },
    {
      name: 'PATCH /api/tasks/{id}/',
      request: {
        method: 'PATCH',
        setupRequest: (request) => ({
          ...request,
          path: `/api/tasks/${1 + Math.floor(Math.random() * TASKS)}/`,
          body: JSON.stringify({ priority: Math.random() < 0.5 ? 'low' : 'urgent' }),
        }),
      },
      sql: () => service.update(auth, SAMPLE_ID, { priority: 'urgent' }),
    },
    {
      name: 'GET /api/tasks/statistics/',
      request: { method: 'GET', path: '/api/tasks/statistics/' },
      sql: () => service.statistics(auth),
    },
  ];

  console.log(
    `\n${CONNECTIONS} connections, ${duration} s each          endpoint: req/s  p50  p99  | pgbench: tps  p50  p99 | ratio`,
  );
  for (const { name, request, sql } of cases) {
    if (!only.test(name)) continue;
    // Unmeasured: JIT, each pooled connection's first parse of the statements, the heap's growth.
    await autocannon({ url: process_.url, connections: CONNECTIONS, duration: 2, headers, requests: [request] });
    const result = await autocannon({
      url: process_.url,
      connections: CONNECTIONS,
      duration,
      headers,
      requests: [request],
    });
    const failures = result.non2xx + result.errors + result.timeouts;
    const script = pgbenchScript(await record(sql), likeEndpoint);
    const bench = runPgbench(url, script, likeEndpoint);
    console.log(
      `  ${name.padEnd(40)} ${result.requests.average.toFixed(0).padStart(6)} ${String(result.latency.p50).padStart(4)} ${String(result.latency.p99).padStart(4)} ms` +
        ` | ${bench.tps.toFixed(0).padStart(6)} ${bench.p50.toFixed(1).padStart(5)} ${bench.p99.toFixed(1).padStart(6)} ms` +
        ` | ${(result.requests.average / bench.tps).toFixed(2)}${failures > 0 ? `  (${failures} failed requests)` : ''}`,
    );
    if (process.env.BENCH_SHOW_SQL) console.log(script);
  }
} finally {
  await server.stop();
  await db.close();
  await created?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
