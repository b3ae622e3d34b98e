import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.ts';
import { type AppConfig, loadConfig } from '../src/platform/config.ts';
import { type Database, openPostgres } from '../src/platform/db/index.ts';
import { Jobs } from '../src/platform/jobs/index.ts';
import { createQueues, createServices, type Services } from '../src/services.ts';
import type { Task } from '../src/tasks/schemas.ts';
import { createServerDatabase } from './databases.ts';
import { until } from './timing.ts';

/** The project: the app's embedded PostgreSQL (the default without DATABASE_URL), or the server at 5432. */
export const TEST_DB = process.env.TEST_DB === 'postgres' ? 'postgres' : 'embedded';

export interface TestDatabase {
  db: Database;
  /** The database's own URL, for a second process or pool. */
  url: string;
  close(): Promise<void>;
}

/** A database of this test file's own, migrated, on the server this project runs. */
export async function openTestDatabase(): Promise<TestDatabase> {
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

/** Resolves once no job of the queue waits or runs: none of its jobs will do anything more. */
export const queueSettled = (jobs: Jobs, queue: string, timeoutMs = 20_000) =>
  until(
    async () => {
      const states = (await jobs.stats()).find((s) => s.queue === queue)?.states ?? {};
      return !states.created && !states.retry && !states.active;
    },
    timeoutMs,
    `queue ${queue} settled`,
  );

export interface TestContext extends TestDatabase {
  app: FastifyInstance;
  config: AppConfig;
  jobs: Jobs;
  services: Services;
}

export async function createTestContext(overrides: Partial<AppConfig> = {}): Promise<TestContext> {
  return testContextOn(await openTestDatabase(), overrides);
}

/** The app, its jobs and services over a database the test opened; close() closes the database last. */
export async function testContextOn(database: TestDatabase, overrides: Partial<AppConfig> = {}): Promise<TestContext> {
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
  role: 'admin' | 'member' | 'guest' = 'member',
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

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Requests as a signed-in person (or, with null, as nobody) to an app that a `beforeAll` makes:
 * `const { call, createTask } = requestsTo(() => ctx.app);`
 */
export function requestsTo(app: () => FastifyInstance) {
  const call = (
    session: Session | null,
    method: Method,
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) =>
    app().inject({
      method,
      url,
      headers: { ...(session === null ? {} : bearer(session.access)), ...headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  /** A task made through the API (title "A task" unless given); anything but a 201 throws. */
  const createTask = async (session: Session, fields: Record<string, unknown> = {}): Promise<Task> => {
    const response = await call(session, 'POST', '/api/tasks/', { title: 'A task', ...fields });
    if (response.statusCode !== 201) throw new Error(`create failed: ${response.statusCode} ${response.body}`);
    return json<Task>(response);
  };
  return { call, createTask };
}
