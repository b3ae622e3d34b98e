/**
 * The embedded designs side by side in one run, each a real server process at 50 connections:
 * - `postgres`: this code on the PostgreSQL server at 5432 (DATABASE_URL), the yardstick;
 * - `embedded`: this code with no DATABASE_URL (its own PostgreSQL 15 server in DATA_DIR);
 * - `pglite`: the code before it (PGlite on the event loop), from BENCH_PGLITE_ROOT;
 * - `pglite-socket`: PGlite off the event loop, in a process of its own behind
 *   @electric-sql/pglite-socket (its `pglite-server` at BENCH_PGLITE_SERVER), this code talking to
 *   it over DATABASE_URL.
 * For each: first start on an empty database to the first 200 from /healthz, the seed (1,000
 * companies of 5 users, 100,000 tasks in the first and 100 in each other, by `cli seed`). Then all
 * serve at once: the memory at idle (PSS of the app and its database processes, 5 s after start),
 * and each endpoint warmed up 2 s and measured (autocannon), design after design, so that what
 * else loads the machine spreads over all of them.
 * Usage: [BENCH_PGLITE_ROOT=dir] [BENCH_PGLITE_SERVER=path] npx tsx bench/embedded.ts [seconds=10] [designs=postgres,embedded,pglite,pglite-socket]
 * BENCH_PGLITE_ROOT: the code before this change with its dependencies, e.g.
 *   mkdir /tmp/pglite-code && git archive 5d39083 | tar -x -C /tmp/pglite-code && ln -s "$PWD/node_modules" /tmp/pglite-code/
 * BENCH_PGLITE_SERVER: e.g. `npm install @electric-sql/pglite-socket@0.2.18` in a directory of its
 *   own, then its node_modules/.bin/pglite-server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { SEED_PASSWORD } from '../src/accounts/seed.ts';
import { createServerDatabase } from '../test/databases.ts';
import { freePort } from '../test/process.ts';

const here = fileURLToPath(new URL('..', import.meta.url));
const duration = Number(process.argv[2] ?? 10);
const designs = (process.argv[3] ?? 'postgres,embedded,pglite,pglite-socket').split(',');
const CONNECTIONS = 50;
const SECRET = 'bench-secret-0123456789-0123456789-0123456789';

interface Target {
  /** The code that runs: this checkout, or the one before the change. */
  root: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
  /** A database process of its own beside the app, counted in the memory at idle. */
  sidecar?: ChildProcess;
}

function run(root: string, args: string[], env: Record<string, string>) {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function finished(child: ChildProcess): Promise<string> {
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`exit ${code}: ${output}`);
  return output;
}

async function healthy(url: string, child: ChildProcess, started: number): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return performance.now() - started;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  // A server whose database connections broke (pglite-socket under concurrency) may never finish.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Proportional set size (shared pages split among their users) of a process and its descendants, in MB. */
function pssMb(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  let kb = 0;
  const visit = (p: number) => {
    try {
      kb += Number(/Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
    for (const child of children.get(p) ?? []) visit(child);
  };
  visit(pid);
  return kb / 1024;
}

async function prepare(design: string): Promise<Target> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `tasks-bench-${design}-`));
  const base = { DATA_DIR: dataDir, AUTH_RATE_LIMIT: '1000000', RATE_LIMIT: '1000000' };
  const removeDir = async () => rmSync(dataDir, { recursive: true, force: true });
  if (design === 'postgres') {
    const created = await createServerDatabase({ empty: true });
    return {
      root: here,
      env: { ...base, DATABASE_URL: created.url, JWT_SECRET: SECRET },
      cleanup: async () => {
        await created.drop();
        await removeDir();
      },
    };
  }
  if (design === 'embedded') return { root: here, env: base, cleanup: removeDir };
  const pgliteRoot = process.env.BENCH_PGLITE_ROOT;
  if (design === 'pglite') {
    if (pgliteRoot === undefined) throw new Error('pglite needs BENCH_PGLITE_ROOT (see the usage)');
    return { root: pgliteRoot, env: base, cleanup: removeDir };
  }
  if (design === 'pglite-socket') {
    const server = process.env.BENCH_PGLITE_SERVER;
    if (server === undefined) throw new Error('pglite-socket needs BENCH_PGLITE_SERVER (see the usage)');
    const port = await freePort();
    const sidecar = spawn(
      process.execPath,
      [server, `--db=${path.join(dataDir, 'pgdata')}`, `--port=${port}`, '--host=127.0.0.1', '--max-connections=100'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    sidecar.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    sidecar.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    for (;;) {
      if (sidecar.exitCode !== null) throw new Error(`pglite-server exited: ${output}`);
      if (/listening|ready/i.test(output)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      root: here,
      env: { ...base, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, JWT_SECRET: SECRET },
      sidecar,
      cleanup: async () => {
        await stop(sidecar);
        await removeDir();
      },
    };
  }
  throw new Error(`unknown design ${design}`);
}

type Prepared = {
  design: string;
  target: Target;
  env: Record<string, string>;
  url: string;
  firstStart: number;
  seed: number;
  admin: string;
};
type Running = Prepared & { server: ChildProcess; idleMb: number; headers: Record<string, string>; id: number };
const endpoints = ['GET /api/tasks/', 'GET /api/tasks/{id}/', 'GET /api/tasks/statistics/', 'POST /api/tasks/'];
const prepared: Prepared[] = [];
const running: Running[] = [];
const results = new Map<string, Map<string, string>>();

try {
  for (const design of designs) {
    const target = await prepare(design);
    const port = String(await freePort());
    const env = { ...target.env, PORT: port };
    const url = `http://127.0.0.1:${port}`;
    // First start: an empty database, to the first 200.
    let started = performance.now();
    const server = run(target.root, ['src/main.ts'], env);
    const firstStart = await healthy(url, server, started);
    await stop(server);
    started = performance.now();
    const seeded = await finished(
      run(target.root, ['src/cli.ts', 'seed', '--companies', '1000', '--tasks', '100', '--heavy', '100000'], env),
    );
    const seed = performance.now() - started;
    const admin = /admin (\S+)/.exec(seeded)?.[1];
    if (admin === undefined) throw new Error(`no admin in the seed's output: ${seeded}`);
    prepared.push({ design, target, env, url, firstStart, seed, admin });
    console.log(`${design}: first start ${(firstStart / 1000).toFixed(2)} s, seed ${(seed / 1000).toFixed(1)} s`);
  }

  // Every design serves at once, idle but for the one measured: the endpoints alternate between
  // designs, so that the load others put on this shared machine spreads over all of them.
  for (const p of prepared) {
    const server = run(p.target.root, ['src/main.ts'], p.env);
    await healthy(p.url, server, performance.now());
    running.push({ ...p, server, idleMb: 0, headers: {}, id: 0 });
  }
  await new Promise((r) => setTimeout(r, 5000));
  for (const r of running) {
    r.idleMb =
      pssMb(r.server.pid as number) + (r.target.sidecar === undefined ? 0 : pssMb(r.target.sidecar.pid as number));
    const login = await fetch(`${r.url}/api/auth/login/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: r.admin, password: SEED_PASSWORD }),
    });
    const { access } = (await login.json()) as { access: string };
    r.headers = { authorization: `Bearer ${access}`, 'content-type': 'application/json' };
    const first = (await (await fetch(`${r.url}/api/tasks/?page_size=1`, { headers: r.headers })).json()) as {
      results: Array<{ id: number }>;
    };
    r.id = first.results[0]?.id as number;
  }

  for (const name of endpoints) {
    for (const r of running) {
      const request: autocannon.Request = {
        'GET /api/tasks/': { method: 'GET', path: '/api/tasks/' },
        'GET /api/tasks/{id}/': { method: 'GET', path: `/api/tasks/${r.id}/` },
        'GET /api/tasks/statistics/': { method: 'GET', path: '/api/tasks/statistics/' },
        'POST /api/tasks/': {
          method: 'POST',
          path: '/api/tasks/',
          body: JSON.stringify({ title: 'Bench task', priority: 'high' }),
        },
      }[name] as autocannon.Request;
      const options = { url: r.url, connections: CONNECTIONS, headers: r.headers, requests: [request] };
      await autocannon({ ...options, duration: 2 });
      const result = await autocannon({ ...options, duration });
      const failures = result.non2xx + result.errors + result.timeouts;
      const figures = `${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms${failures > 0 ? ` (${failures} failed)` : ''}`;
      results.set(r.design, (results.get(r.design) ?? new Map()).set(name, figures));
      console.log(`${r.design.padEnd(14)} ${name.padEnd(28)} ${figures}`);
    }
  }
} finally {
  for (const r of running) await stop(r.server);
  for (const p of prepared) await p.target.cleanup();
}

console.log(
  `\n${CONNECTIONS} connections, ${duration} s per endpoint; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`,
);
for (const r of running) {
  console.log(
    `${r.design}: first start ${(r.firstStart / 1000).toFixed(2)} s, seed ${(r.seed / 1000).toFixed(1)} s, memory at idle ${r.idleMb.toFixed(0)} MB (PSS)`,
  );
  for (const [name, figures] of results.get(r.design) ?? []) console.log(`  ${name.padEnd(28)} ${figures}`);
}
