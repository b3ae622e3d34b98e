/**
 * The task endpoints under load: 100,000 tasks in the caller's company among 1,000
 * companies, 50 connections. For each endpoint, in the same run: the server's req/s, p50 and p99
 * (autocannon), then pgbench replaying the exact SQL that endpoint sent (captured from the driver,
 * transaction and tenant settings included), so the ratio endpoint / database is like for like.
 * Each endpoint is warmed up for 2 s first.
 * BENCH_DB=embedded runs the server as `npm start` does, on its embedded PostgreSQL in a DATA_DIR
 * seeded the same way (pgbench then replays on that server, through its socket); by default the
 * server runs on a database of the PostgreSQL at 5432.
 * Projects (version 2's schema): the company's tasks are spread over BENCH_PROJECTS projects (20;
 * 1 keeps them all in the default one), the last of them private, a few with a Review status, a
 * third of the tasks labelled; the caller (BENCH_ROLE) is a company member who is a member of the
 * private project (`member`, the default) or the company's admin (`admin`), and two endpoints more
 * read one project: its list (the private one's) and its statistics. A schema without projects
 * (an older commit) keeps every task as it was and skips those two.
 * The code measured is the checkout in the current directory (or BENCH_ROOT): seeding, server and
 * SQL all come from there, so `cd <checkout of another commit> && npx tsx <this file>` measures
 * that commit with this very script.
 * Comments (a checkout with src/comments/seed.ts): three on each of the first company's tasks,
 * 300,000, some about reviewing invoices, which searches then match too.
 * BENCH_DEPENDENCIES=1 (a schema with task_dependencies): a fifth of the tasks linked, one in ten
 * waiting for the task before it and one in ten a subtask of the task five before it.
 * BENCH_CPU_PROFILE=dir writes the server's CPU profile there when it stops.
 * Usage: [BENCH_DB=embedded] [BENCH_ONLY=regex] [BENCH_PGBENCH=like-endpoint] [BENCH_PROJECTS=20]
 *        [BENCH_ROLE=member|admin] [BENCH_DEPENDENCIES=1] [BENCH_ROOT=dir] npx tsx bench/tasks.ts [seconds=10]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import type pg from 'pg';
import type { Auth } from '../src/platform/auth.ts';
import { apiAs } from './api.ts';

const root = path.resolve(process.env.BENCH_ROOT ?? process.cwd());
if (!existsSync(path.join(root, 'src/main.ts'))) {
  throw new Error(`${root} is not a checkout of this project: run from one, or set BENCH_ROOT`);
}
/** A module of the measured checkout, typed as this checkout's. */
const load = <T>(file: string): Promise<T> => import(pathToFileURL(path.join(root, file)).href);
const { SEED_PASSWORD, seedAccounts } = await load<typeof import('../src/accounts/seed.ts')>('src/accounts/seed.ts');
const { embeddedUrl } = await load<typeof import('../src/platform/db/embedded.ts')>('src/platform/db/embedded.ts');
const { openEmbedded, openPostgres } =
  await load<typeof import('../src/platform/db/index.ts')>('src/platform/db/index.ts');
const { pageRequest } = await load<typeof import('../src/platform/pagination.ts')>('src/platform/pagination.ts');
const { seedTasks } = await load<typeof import('../src/tasks/seed.ts')>('src/tasks/seed.ts');
/** Comments (issue 18): absent from checkouts before them, which are measured without. */
const commentsSeed = existsSync(path.join(root, 'src/comments/seed.ts'))
  ? await load<typeof import('../src/comments/seed.ts')>('src/comments/seed.ts')
  : undefined;
const { createServerDatabase } = await load<typeof import('../test/databases.ts')>('test/databases.ts');
const { freePort, startServer, waitForHealthy } = await load<typeof import('../test/process.ts')>('test/process.ts');
const { sqlOnlyTasksService } = await load<typeof import('./tasks-service.ts')>('bench/tasks-service.ts');
type Database = import('../src/platform/db/index.ts').Database;

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
const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 20);
const ROLE = process.env.BENCH_ROLE ?? 'member';
if (!(Number.isInteger(PROJECTS) && PROJECTS >= 1)) throw new Error('BENCH_PROJECTS: a whole number, 1 or more');
if (ROLE !== 'member' && ROLE !== 'admin') throw new Error('BENCH_ROLE: member or admin');
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

/** CPU seconds (user and system) each process has used so far, from /proc; absent once it has exited. */
function cpuSeconds(pids: number[]): Map<number, number> {
  const used = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      used.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // exited between the listing and the read
    }
  }
  return used;
}

/**
 * The CPU the server process and the database's backends serving it (every connection to this
 * database but the caller's) spend while `work` runs: what a request costs, which the machine's
 * other load changes far less than it changes req/s.
 */
async function cpuDuring<T>(
  client: pg.Pool,
  serverPid: number,
  work: () => Promise<T>,
): Promise<{ value: T; server: number; database: number }> {
  const backends = async () =>
    (
      (
        await client.query(
          'select array_agg(pid) as pids from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
        )
      ).rows[0] as { pids: number[] | null }
    ).pids ?? [];
  const before = cpuSeconds([serverPid, ...(await backends())]);
  const value = await work();
  const after = cpuSeconds([serverPid, ...(await backends())]);
  let database = 0;
  for (const [pid, seconds] of after) if (pid !== serverPid) database += seconds - (before.get(pid) ?? 0);
  return { value, server: (after.get(serverPid) ?? 0) - (before.get(serverPid) ?? 0), database };
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

async function login(base: string, username: string, password: string): Promise<string> {
  const response = await fetch(`${base}/api/auth/login/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw new Error(`login ${username}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access: string }).access;
}

/**
 * The company's tasks moved from the default project into PROJECTS - 1 more, made through the API
 * by the admin (the last one private, with `memberId` in it; every fourth a Review status), and a
 * third of them labelled. The default project keeps its first 1/PROJECTS of the tasks by number
 * and their numbers; the others get the rest in turn, numbered from 1 in the same order, in a
 * status of the task's category (in turn too). Numbers are written, not drawn from the projects'
 * counters, which are then set past them. Returns the private project, or the default one when
 * there is no other.
 */
async function spreadOverProjects(db: Database, admin: ReturnType<typeof apiAs>, companyId: number, memberId: number) {
  const made: number[] = [];
  for (let i = 2; i <= PROJECTS; i++) {
    const key = `B${String(i).padStart(2, '0')}`;
    const project = await admin<{ id: number }>('POST', '/api/projects/', {
      name: `Bench ${key}`,
      key,
      is_private: i === PROJECTS,
    });
    made.push(project.id);
    if (i % 4 === 2) {
      await admin('POST', `/api/projects/${project.id}/statuses/`, {
        name: 'Review',
        category: 'in_progress',
        position: 2,
      });
    }
  }
  const labels: number[] = [];
  for (const name of ['bug', 'feature', 'design', 'docs', 'customer', 'tech debt']) {
    labels.push((await admin<{ id: number }>('POST', '/api/labels/', { name })).id);
  }
  const client = db.client as pg.Pool;
  await client.query(
    `with ranked as (
       select t.id, t.status, (row_number() over (order by t.number, t.id) - 1)::int as r, count(*) over ()::int as total
       from tasks t join projects p on p.company_id = t.company_id and p.id = t.project_id and p.is_default
       where t.company_id = $1
     ),
     placed as (
       select id, status, k, ($2::int[])[1 + k % cardinality($2::int[])] as project_id,
              1 + k / cardinality($2::int[]) as number, k / cardinality($2::int[]) as turn
       from (select id, status, r - total / (1 + cardinality($2::int[])) as k from ranked) x
       where k >= 0
     )
     update tasks t
     set project_id = p.project_id, number = p.number,
         state_id = (select (array_agg(s.id order by s.position, s.id))[1 + p.turn % count(*)::int] from statuses s
                     where s.company_id = $1 and s.project_id = p.project_id and s.category = p.status)
     from placed p
     where t.company_id = $1 and t.id = p.id`,
    [companyId, made],
  );
  await client.query(
    `update projects p set next_number = 1 + (select max(t.number) from tasks t
                                              where t.company_id = p.company_id and t.project_id = p.id)
     where p.company_id = $1 and p.id = any($2::int[])`,
    [companyId, made],
  );
  await client.query(
    `insert into task_labels (company_id, task_id, label_id)
     select $1, t.id, ($2::int[])[1 + (t.id + k) % cardinality($2::int[])]
     from tasks t cross join generate_series(0, 1) k
     where t.company_id = $1 and t.id % 3 = 0 and (k = 0 or t.id % 9 = 0)`,
    [companyId, labels],
  );
  const [spread] = (
    await client.query(
      `select min(n)::int as least, max(n)::int as most, (select count(distinct state_id)::int from tasks
                                                          where company_id = $1) as states
       from (select count(*) as n from tasks where company_id = $1 group by project_id) x`,
      [companyId],
    )
  ).rows as Array<{ least: number; most: number; states: number }>;
  console.log(`tasks per project ${spread?.least}–${spread?.most}, in ${spread?.states} statuses`);
  const privateOne = made.at(-1);
  if (privateOne !== undefined)
    await admin('PUT', `/api/projects/${privateOne}/members/${memberId}/`, { role: 'member' });
  const [general] = (await client.query('select id from projects where company_id = $1 and is_default', [companyId]))
    .rows as Array<{ id: number }>;
  return privateOne ?? (general as { id: number }).id;
}

/** A fifth of the company's tasks linked: every tenth waits for the one before, every tenth (others) is a subtask. */
async function linkTasks(client: pg.Pool, companyId: number) {
  await client.query(
    `insert into task_dependencies (company_id, task_id, blocker_id)
     select t.company_id, t.id, b.id from tasks t join tasks b on b.company_id = t.company_id and b.id = t.id - 1
     where t.company_id = $1 and t.id % 10 = 0`,
    [companyId],
  );
  await client.query(
    `update tasks t set parent_id = t.id - 5 where t.company_id = $1 and t.id % 10 = 5
       and exists (select 1 from tasks p where p.company_id = t.company_id and p.id = t.id - 5)`,
    [companyId],
  );
  const [linked] = (
    await client.query(
      `select (select count(*) from task_open_blockers b where b.company_id = $1 and b.open_blockers > 0)::int as blocked,
              count(*) filter (where parent_id is not null)::int as subtasks
       from tasks where company_id = $1`,
      [companyId],
    )
  ).rows as Array<{ blocked: number; subtasks: number }>;
  console.log(`linked: ${linked?.blocked} tasks blocked, ${linked?.subtasks} subtasks`);
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
  if (commentsSeed !== undefined) {
    const comments = await commentsSeed.seedComments(db, { companyIds: [first.id], perTask: 3 });
    console.log(`${comments.toLocaleString('en')} comments on the first company's tasks`);
  }

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
  // A CPU profile of the server over the whole run, written when it stops (.cpuprofile for DevTools).
  const profileDir = process.env.BENCH_CPU_PROFILE;
  const process_ = startServer(env, undefined, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
  server.stop = async () => {
    process_.child.kill('SIGTERM');
    await process_.exited;
  };
  await waitForHealthy(process_);
  const url = created?.url ?? embeddedUrl(dataDir);
  if (url === undefined) throw new Error(`DATA_DIR ${dataDir} is too long a path for a socket`);
  if (embedded) db = openPostgres({ url, poolSize: 2 });
  const client = db.client as pg.Pool;
  const [schema] = (await client.query(`select to_regclass('public.projects') is not null as projects`)).rows as Array<{
    projects: boolean;
  }>;
  const member = first.admin.replace(/_admin$/, '_user1');
  const [memberRow] = (
    await client.query('select id from users where company_id = $1 and username = $2', [first.id, member])
  ).rows as Array<{ id: number }>;
  const admin = apiAs(process_.url, await login(process_.url, first.admin, SEED_PASSWORD));
  const oneProject = schema?.projects
    ? await spreadOverProjects(db, admin, first.id, (memberRow as { id: number }).id)
    : undefined;
  if (process.env.BENCH_DEPENDENCIES === '1') await linkTasks(client, first.id);
  // Rewritten once seeded: each comment's trigger left its task's earlier version behind, which a long-running database reuses but a fresh one would
  // scatter every search over.
  await client.query('vacuum full tasks');
  await client.query('vacuum analyze');
  // The seed's dirty pages (gigabytes with 300,000 comments) written now, not by the checkpointer
  // during the measurements.
  await client.query('checkpoint');
  const record = capture(client);
  const caller = ROLE === 'admin' ? first.admin : member;
  const access = await login(process_.url, caller, SEED_PASSWORD);
  const profile = await apiAs(process_.url, access)<{ id: number }>('GET', '/api/auth/profile/');
  const auth: Auth = { userId: profile.id, companyId: first.id };
  console.log(
    `code: ${root}; ${oneProject === undefined ? 'no projects in this schema' : `${PROJECTS} projects (the last private)`}; as ${caller} (${ROLE})`,
  );
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
    ...(oneProject === undefined
      ? []
      : [
          {
            name: 'GET /api/tasks/?project={id}',
            request: { method: 'GET' as const, path: `/api/tasks/?project=${oneProject}` },
            sql: () => service.listTasks(auth, { project: oneProject }, page),
          },
          {
            name: 'GET /api/tasks/statistics/?project={id}',
            request: { method: 'GET' as const, path: `/api/tasks/statistics/?project=${oneProject}` },
            sql: () => service.statistics(auth, oneProject),
          },
        ]),
  ];

  console.log(
    `\n${CONNECTIONS} connections, ${duration} s each          endpoint: req/s  p50  p99  | pgbench: tps  p50  p99 | ratio | CPU a request: server, database`,
  );
  for (const { name, request, sql } of cases) {
    if (!only.test(name)) continue;
    // Unmeasured: JIT, each pooled connection's first parse of the statements, the heap's growth.
    await autocannon({ url: process_.url, connections: CONNECTIONS, duration: 2, headers, requests: [request] });
    const cpu = await cpuDuring(client, process_.child.pid as number, () =>
      autocannon({ url: process_.url, connections: CONNECTIONS, duration, headers, requests: [request] }),
    );
    const result = cpu.value;
    const perRequest = (seconds: number) =>
      ((1000 * seconds) / Math.max(1, result.requests.total)).toFixed(2).padStart(5);
    const failures = result.non2xx + result.errors + result.timeouts;
    const script = pgbenchScript(await record(sql), likeEndpoint);
    const bench = runPgbench(url, script, likeEndpoint);
    console.log(
      `  ${name.padEnd(40)} ${result.requests.average.toFixed(0).padStart(6)} ${String(result.latency.p50).padStart(4)} ${String(result.latency.p99).padStart(4)} ms` +
        ` | ${bench.tps.toFixed(0).padStart(6)} ${bench.p50.toFixed(1).padStart(5)} ${bench.p99.toFixed(1).padStart(6)} ms` +
        ` | ${(result.requests.average / bench.tps).toFixed(2).padStart(5)}` +
        ` | ${perRequest(cpu.server)} ${perRequest(cpu.database)} ms${failures > 0 ? `  (${failures} failed requests)` : ''}`,
    );
    if (process.env.BENCH_SHOW_SQL) console.log(script);
  }
} finally {
  await server.stop();
  await db.close();
  await created?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
