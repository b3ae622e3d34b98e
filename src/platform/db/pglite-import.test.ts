import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import PgBoss from 'pg-boss';
import { afterAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../../../test/databases.ts';
import { TEST_DB } from '../../../test/helpers.ts';
import { freePort, startServer, waitForHealthy } from '../../../test/process.ts';
import { scratchDir } from '../../../test/scratch.ts';
import { SEED_PASSWORD, seedAccounts } from '../../accounts/seed.ts';
import { QUEUES } from '../../notifications/jobs.ts';
import { seedTasks } from '../../tasks/seed.ts';
import { type Database, MIGRATIONS_FOLDER, type Tx } from './index.ts';

const run = promisify(execFile);

/**
 * A PGlite data directory as the app before embedded PostgreSQL left it: migrated, pg-boss's schema
 * with a queued email, and companies with people and tasks written by the same seeding code
 * (through drizzle on PGlite, as that app ran it).
 */
async function pgliteDataDir(dir: string) {
  const client = await PGlite.create({ dataDir: dir });
  const db = drizzle(client);
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  await client.exec(PgBoss.getConstructionPlans('pgboss'));
  await client.query(`select pgboss.create_queue($1, '{"policy": "standard"}')`, [QUEUES.send]);
  await client.query(
    `insert into pgboss.job (name, data, start_after) values ($1, '{"notification": 1}', now() + interval '1 hour')`,
    [QUEUES.send],
  );
  const system = {
    unsafeSystem: <T>(fn: (tx: Tx) => Promise<T>) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('role', 'tasks_system', true)`);
        return fn(tx as unknown as Tx);
      }),
  } as Database;
  const companies = await seedAccounts(system, { companies: 3, usersPerCompany: 3 });
  await seedTasks(system, { companyIds: companies.map((c) => c.id), tasksPerCompany: 40 });
  const { rows } = await client.query<{ id: number }>('select max(id) as id from tasks');
  await client.close();
  return { admin: companies[0]?.admin as string, maxTaskId: rows[0]?.id as number };
}

describe(`npm run cli -- import-pglite (${TEST_DB})`, () => {
  const dataDir = scratchDir('tasks-import-');
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  let drop = async () => {};
  afterAll(() => drop());

  const cli = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );

  it('carries a PGlite DATA_DIR with real data over, and refuses to do it twice', { timeout: 180_000 }, async () => {
    if (TEST_DB === 'postgres') {
      const created = await createServerDatabase({ empty: true });
      drop = created.drop;
      env.DATABASE_URL = created.url;
      env.JWT_SECRET = 'import-test-secret-0123456789-0123456789';
    }
    const { admin, maxTaskId } = await pgliteDataDir(path.join(dataDir, 'pgdata'));

    const imported = await cli('import-pglite');
    expect(imported.out).toContain('public.tasks: 120 rows');
    expect(imported.out).toContain('public.users: 9 rows');
    expect(imported.code).toBe(0);
    expect((await cli('jobs')).out).toMatch(/Queued \(1\):\n.*notification/);
    const again = await cli('import-pglite');
    expect(again.code).not.toBe(0);
    expect(again.out).toContain('already has companies');

    const server = startServer({ ...env, PORT: String(await freePort()) });
    try {
      await waitForHealthy(server);
      const login = await fetch(`${server.url}/api/auth/login/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: admin, password: SEED_PASSWORD }),
      });
      expect(login.status).toBe(200);
      const headers = { authorization: `Bearer ${((await login.json()) as { access: string }).access}` };
      const list = (await (await fetch(`${server.url}/api/tasks/`, { headers })).json()) as { count: number };
      expect(list.count).toBe(40);
      // the statistics the triggers kept came along, and agree with the tasks
      const statistics = (await (await fetch(`${server.url}/api/tasks/statistics/`, { headers })).json()) as {
        total: number;
      };
      expect(statistics.total).toBe(40);
      // sequences go on from where they were
      const created = await fetch(`${server.url}/api/tasks/`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'After the import' }),
      });
      expect(created.status).toBe(201);
      expect(((await created.json()) as { id: number }).id).toBeGreaterThan(maxTaskId);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
