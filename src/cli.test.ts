import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase, onServer } from '../test/databases.ts';
import { json, startTestJobs, TEST_DB, testConfig } from '../test/helpers.ts';
import { scratchDir } from '../test/scratch.ts';
import { until } from '../test/timing.ts';
import { SEED_PASSWORD, seedAccounts } from './accounts/seed.ts';
import { buildApp } from './app.ts';
import { openDatabase } from './platform/db/index.ts';
import { Jobs } from './platform/jobs/index.ts';
import { createServices } from './services.ts';

const run = promisify(execFile);

describe(`management CLI (${TEST_DB})`, () => {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent' };
  let drop = async () => {};
  beforeAll(async () => {
    env.DATA_DIR = scratchDir('tasks-cli-');
    if (TEST_DB === 'postgres') {
      // an empty database: the CLI's migrate has all the work to do
      const created = await createServerDatabase({ empty: true });
      drop = created.drop;
      env.DATABASE_URL = created.url;
      env.JWT_SECRET = 'cli-test-secret-0123456789-0123456789-abcdef';
    }
  });
  afterAll(() => drop());

  const cli = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );

  // Each command is a process that opens the database: seconds apiece on PGlite.
  it('migrates, creates an admin, seeds, and refuses bad input', { timeout: 180_000 }, async () => {
    expect(await cli('migrate')).toEqual({ code: 0, out: 'Migrations applied.\n' });
    expect((await cli('migrate')).code).toBe(0);

    const created = await cli(
      'createadmin',
      '--company',
      'Cli Co',
      '--username',
      'cliadmin',
      '--email',
      'cli@example.com',
      '--password',
      'a-good-password',
    );
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/Created company "Cli Co" .* admin cliadmin/);

    const taken = await cli(
      'createadmin',
      '--company',
      'cli co',
      '--username',
      'x1',
      '--email',
      'x1@x.io',
      '--password',
      'another-password',
    );
    expect(taken.code).toBe(2);
    expect(taken.out).toContain('company_name: A company with that name already exists.');
    const incomplete = await cli('createadmin', '--company', 'Only Co');
    expect(incomplete.code).toBe(2);
    expect(incomplete.out).toContain('needs --username, --email, --password');
    expect((await cli('frobnicate')).code).toBe(2);

    const seeded = await cli('seed');
    expect(seeded.code).toBe(0);
    expect(seeded.out).toContain(
      'Seeded 3 companies with 5 users and a guest each, 9 new projects, 225 new tasks and 225 comments',
    );
    // a second run adds nothing: every company has its users, projects and tasks already
    expect((await cli('seed')).out).toContain('0 new projects, 0 new tasks and 0 comments');
    // the first of the generated companies gets the heavy load, spread over its projects
    expect((await cli('seed', '--companies', '2', '--tasks', '5', '--heavy', '40')).out).toContain(
      'Seeded 2 companies with 5 users and a guest each, 6 new projects, 48 new tasks and 128 comments',
    );

    // what the CLI wrote is usable through the API
    const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR as string });
    try {
      const jobs = await startTestJobs(db);
      const app = await buildApp(createServices(testConfig(), db, jobs));
      const admin = await app.inject({
        method: 'POST',
        url: '/api/auth/login/',
        payload: { username: 'cliadmin', password: 'a-good-password' },
      });
      expect(admin.statusCode).toBe(200);
      const login = async (username: string) => {
        const response = await app.inject({
          method: 'POST',
          url: '/api/auth/login/',
          payload: { username, password: SEED_PASSWORD },
        });
        expect(response.statusCode).toBe(200);
        const headers = { authorization: `Bearer ${json<{ access: string }>(response).access}` };
        return async (url: string) =>
          json<{ count: number; results: Array<Record<string, unknown>> }>(await app.inject({ url, headers }));
      };
      const member = await login('globex_user2');
      expect(await member('/api/auth/company-users/')).toMatchObject({ count: 6 });
      // General's 50, and the public projects' share of 25 more (the private one's is not theirs)
      const projects = (await member('/api/projects/')).results;
      expect(projects.map((p) => p.key)).toEqual(['GEN', 'APP', 'WEB']);
      const general = projects.find((p) => p.key === 'GEN');
      expect(await member(`/api/tasks/?project=${general?.id}`)).toMatchObject({ count: 50 });
      expect(await member('/api/tasks/')).toMatchObject({ count: 50 + 9 + 8 });
      const guest = await login('globex_guest');
      expect((await guest('/api/projects/')).results.map((p) => p.key)).toEqual(['WEB']);
      expect(await guest('/api/tasks/')).toMatchObject({ count: 8 });
      const heavy = await login('company0001_admin');
      expect(await heavy('/api/tasks/')).toMatchObject({ count: 40 });
      const web = (await heavy('/api/projects/')).results.find((p) => p.key === 'WEB');
      const statistics = (await heavy(`/api/tasks/statistics/?project=${web?.id}`)) as unknown as {
        total: number;
        by_state: Array<{ name: string; count: number }>;
      };
      expect(statistics.total).toBe(10);
      expect(statistics.by_state.map((s) => s.name)).toEqual(['To do', 'In progress', 'Review', 'Done']);
      // seeding again added nothing
      expect((await seedAccounts(db, { usersPerCompany: 5 })).map((c) => c.name)).toEqual([
        'Acme Corp',
        'Globex',
        'Initech',
      ]);
      await app.close();
      await jobs.stop();
    } finally {
      await db.close();
    }
  });

  it('creates a login role that row-level security binds, on PostgreSQL only', { timeout: 120_000 }, async () => {
    const role = `tasks_cli_login_${process.pid}`;
    const made = await cli('create-login-role', role, '--password', 'a-login-password');
    if (TEST_DB !== 'postgres') {
      expect(made.code).toBe(2);
      expect(made.out).toContain('not the embedded database');
      return;
    }
    const dropRole = drop;
    drop = async () => {
      await dropRole();
      await onServer((client) => client.query(`drop role if exists ${role}`));
    };
    expect(made).toMatchObject({ code: 0, out: expect.stringContaining(`Role ${role} can log in`) });
    const [attributes] = await onServer((client) =>
      client
        .query(
          `select rolsuper, rolbypassrls, rolinherit, rolcanlogin,
                  pg_has_role($1, 'tasks_app', 'MEMBER') as app, pg_has_role($1, 'tasks_system', 'MEMBER') as system
             from pg_roles where rolname = $1`,
          [role],
        )
        .then((r) => r.rows),
    );
    expect(attributes).toEqual({
      rolsuper: false,
      rolbypassrls: false,
      rolinherit: false,
      rolcanlogin: true,
      app: true,
      system: true,
    });
    // Again: the role exists, and is brought back to the same state.
    expect((await cli('create-login-role', role)).code).toBe(0);
    expect((await cli('create-login-role', 'Bad-Name')).code).toBe(2);
  });

  it('lists jobs and retries a failed one', { timeout: 120_000 }, async () => {
    const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR as string });
    let failedId: string | null = null;
    try {
      const jobs = new Jobs(db, { logger: { warn: () => {}, error: () => {} }, processing: true });
      await jobs.start();
      await jobs.createQueue('cli-check', { retryLimit: 0 });
      failedId = await db.unsafeSystem((tx) => jobs.send(tx, 'cli-check', { n: 1 }));
      await jobs.work('cli-check', async () => {
        throw new Error('the mail server said no');
      });
      await until(async () => (await jobs.list(['failed'])).length > 0);
      await jobs.stop();
    } finally {
      await db.close();
    }
    const listed = await cli('jobs');
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/Active \(0\):\nQueued \(\d+\):/);
    expect(listed.out).toContain(`Failed (1):\n  ${failedId}  cli-check`);
    expect(listed.out).toContain('the mail server said no');
    expect(listed.out).toContain('Scheduled:');

    expect(await cli('jobs', 'retry', failedId as string)).toEqual({
      code: 0,
      out: `Job ${failedId} will run again.\n`,
    });
    expect((await cli('jobs')).out).toContain('Failed (0):');
    const again = await cli('jobs', 'retry', failedId as string);
    expect(again.code).toBe(2);
    expect(again.out).toContain(`no failed job has the id ${failedId}`);
    expect((await cli('jobs', 'retry')).code).toBe(2);
  });
});
