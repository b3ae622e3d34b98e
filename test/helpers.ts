import { readFileSync } from 'node:fs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.ts';
import { type AppConfig, loadConfig } from '../src/platform/config.ts';
import { type Database, openPglite, openPostgres } from '../src/platform/db/index.ts';
import { Jobs } from '../src/platform/jobs/index.ts';
import { createQueues, createServices, type Services } from '../src/services.ts';
import { createServerDatabase, snapshotPath } from './databases.ts';

export const TEST_DB = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';

export interface TestDatabase {
  db: Database;
  /** Set on the postgres project: the database's own URL, for a second process or pool. */
  url: string | undefined;
  close(): Promise<void>;
}

/** A database of this test file's own, migrated, on the driver this project runs. */
export async function openTestDatabase(): Promise<TestDatabase> {
  if (TEST_DB === 'postgres') {
    const created = await createServerDatabase();
    const db = openPostgres({ url: created.url });
    return {
      db,
      url: created.url,
      close: async () => {
        await db.close();
        await created.drop();
      },
    };
  }
  const db = await openPglite({ loadDataDir: new Blob([readFileSync(snapshotPath())]) });
  return { db, url: undefined, close: () => db.close() };
}

export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    ...loadConfig({ LOG_LEVEL: 'silent', AUTH_RATE_LIMIT: '10000', RATE_LIMIT: '1000000' }),
    jwtSecret: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    ...overrides,
  };
}

const quiet = { warn: () => undefined, error: () => undefined };

/** The job queue as an API process has it: sending in transactions, working nothing. */
export async function startTestJobs(db: Database, config: AppConfig = testConfig()): Promise<Jobs> {
  const jobs = new Jobs(db, { logger: quiet, processing: false });
  await jobs.start();
  await createQueues(jobs, config);
  return jobs;
}

export interface TestContext extends TestDatabase {
  app: FastifyInstance;
  config: AppConfig;
  jobs: Jobs;
  services: Services;
}

export async function createTestContext(overrides: Partial<AppConfig> = {}): Promise<TestContext> {
  const database = await openTestDatabase();
  const config = testConfig(overrides);
  const jobs = await startTestJobs(database.db, config);
  const services = createServices(config, database.db, jobs);
  const app = await buildApp(services);
  await app.ready();
  return {
    ...database,
    app,
    config,
    jobs,
    services,
    close: async () => {
      await app.close();
      await services.close();
      await jobs.stop();
      await database.close();
    },
  };
}

let sequence = 0;
/** Names that no other test in the same database has used. */
export function unique(prefix: string): string {
  sequence += 1;
  return `${prefix}${sequence}${Math.random().toString(36).slice(2, 6)}`;
}

export const PASSWORD = 'correct-horse-battery';

export interface Session {
  user: { id: number; username: string; email: string; role: string; company: { id: number; name: string } };
  access: string;
  refresh: string;
}

export function json<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return response.json() as T;
}

export async function registerCompany(
  app: FastifyInstance,
  fields: Record<string, string | undefined> = {},
): Promise<Session> {
  const username = fields.username ?? unique('user');
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/register/',
    payload: {
      username,
      email: `${username}@example.com`,
      password: PASSWORD,
      password_confirm: PASSWORD,
      first_name: 'Test',
      last_name: 'User',
      company_name: unique('Company '),
      ...fields,
    },
  });
  if (response.statusCode !== 201) throw new Error(`register failed: ${response.statusCode} ${response.body}`);
  return json<Session>(response);
}

/** An admin invites a new member, who registers with the invitation. */
export async function addMember(
  app: FastifyInstance,
  admin: Session,
  role: 'admin' | 'member' = 'member',
): Promise<Session> {
  const username = unique('member');
  const email = `${username}@example.com`;
  const invited = await app.inject({
    method: 'POST',
    url: '/api/auth/invitations/',
    headers: bearer(admin.access),
    payload: { email, role },
  });
  if (invited.statusCode !== 201) throw new Error(`invite failed: ${invited.statusCode} ${invited.body}`);
  return registerCompany(app, {
    username,
    email,
    company_name: undefined,
    invitation_token: json<{ token: string }>(invited).token,
  });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
