/**
 * Cold `npm start` to the first 200 from /healthz, on an empty database and on an existing one:
 * `embedded` (the default: no DATABASE_URL, the embedded PostgreSQL made in an empty DATA_DIR) or
 * `postgres` (a new database on the server at 5432).
 * Usage: npx tsx bench/startup.ts [runs=3] [embedded|postgres]
 * BENCH_BEFORE_ROOT=/path/to/another/checkout (with its node_modules and web/dist) times that one
 * too, taking turns run by run: on a shared machine only interleaved figures compare.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServerDatabase } from '../test/databases.ts';
import { freePort } from '../test/process.ts';

const roots = [fileURLToPath(new URL('..', import.meta.url)), process.env.BENCH_BEFORE_ROOT].filter(
  (root): root is string => root !== undefined,
);
const runs = Number(process.argv[2] ?? 3);
const mode = process.argv[3] ?? 'embedded';

async function timeToHealthy(root: string, dataDir: string, database: Record<string, string>): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn('npm', ['start'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...database },
    stdio: 'ignore',
    detached: true,
  });
  try {
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return performance.now() - started;
      } catch {
        // not up yet
      }
      if (performance.now() - started > 120_000) throw new Error('no 200 from /healthz within 2 minutes');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    // npm runs the server in a child of its own: signal the whole group, then wait for it to go
    process.kill(-(child.pid as number), 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 300));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const times = roots.map(() => ({ empty: [] as number[], existing: [] as number[] }));
for (let i = 0; i < runs; i++) {
  for (const [r, root] of roots.entries()) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tasks-startup-'));
    const created = mode === 'postgres' ? await createServerDatabase({ empty: true }) : undefined;
    const database: Record<string, string> =
      created === undefined
        ? {}
        : { DATABASE_URL: created.url, JWT_SECRET: 'startup-secret-0123456789-0123456789-abc' };
    times[r]?.empty.push(await timeToHealthy(root, dataDir, database));
    times[r]?.existing.push(await timeToHealthy(root, dataDir, database));
    await created?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const fmt = (xs: number[]) =>
  `median ${(median(xs) / 1000).toFixed(2)} s (runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(', ')})`;
for (const [r, root] of roots.entries()) {
  const { empty, existing } = times[r] as { empty: number[]; existing: number[] };
  const label = roots.length > 1 ? ` ${r === 0 ? 'this checkout' : root}` : '';
  console.log(`${mode}${label}, empty database:    ${fmt(empty)}`);
  console.log(`${mode}${label}, existing database: ${fmt(existing)}`);
}
