import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type Database, MIGRATIONS_FOLDER, openPostgres } from '../src/platform/db/index.ts';
import { Jobs } from '../src/platform/jobs/index.ts';

/** The PostgreSQL server the postgres project runs against. */
export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The server this test run uses; a database is made per test file from a template. The embedded
 * project's is one embedded PostgreSQL that the global setup starts for the whole run.
 */
export const SERVER_URL: string =
  process.env.TEST_DB === 'embedded' ? (await import('vitest')).inject('embeddedServerUrl') : POSTGRES_URL;

const root = fileURLToPath(new URL('..', import.meta.url));

const pgBossVersion = (
  JSON.parse(readFileSync(path.join(root, 'node_modules/pg-boss/package.json'), 'utf8')) as { version: string }
).version;

/** Changes whenever a migration (or pg-boss's schema) does, so a stale snapshot or template is never used. */
export function migrationsFingerprint(): string {
  const hash = createHash('sha256').update(pgBossVersion);
  for (const file of readdirSync(MIGRATIONS_FOLDER)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    hash.update(file).update(readFileSync(path.join(MIGRATIONS_FOLDER, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Named by the migrations it holds, so concurrent runs of the same code share it and others don't touch it. */
export const templateDatabase = () => `tasks_tpl_${migrationsFingerprint()}`;

export function databaseUrl(name: string, server = SERVER_URL): string {
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function onServer<T>(fn: (client: pg.Client) => Promise<T>, server = SERVER_URL): Promise<T> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The migrations and pg-boss's own schema, which every test's job queue would otherwise create. */
export async function prepareDatabase(db: Database): Promise<void> {
  await db.migrate();
  const jobs = new Jobs(db, { logger: console, processing: false });
  await jobs.start();
  await jobs.stop();
}

/**
 * Builds the server template unless it exists, under a temporary name renamed into place, so runs
 * that overlap (a developer's and CI's, or a benchmark's) never see a half-built one.
 */
async function buildServerTemplate(server: string): Promise<void> {
  const template = templateDatabase();
  const exists = await onServer(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])).rowCount,
    server,
  );
  if (exists) return;
  const partial = `${template}_${randomBytes(3).toString('hex')}`;
  await onServer((c) => c.query(`CREATE DATABASE ${partial}`), server);
  const db = openPostgres({ url: databaseUrl(partial, server) });
  await prepareDatabase(db);
  await db.close();
  await onServer(async (c) => {
    // When it was built: other branches' runs on the same server leave it alone for a day (test/global-setup.ts).
    await c.query(`COMMENT ON DATABASE ${partial} IS '${new Date().toISOString()}'`);
    try {
      await c.query(`ALTER DATABASE ${partial} RENAME TO ${template}`);
    } catch {
      // another run finished first: theirs is the same
      await c.query(`DROP DATABASE IF EXISTS ${partial}`);
    }
  }, server);
}

const templatesReady = new Map<string, Promise<void>>();
/** Once per process and server: the test runner's global setup, or a benchmark on a server that has none yet. */
export const ensureServerTemplate = (server = SERVER_URL): Promise<void> => {
  let ready = templatesReady.get(server);
  if (ready === undefined) {
    ready = buildServerTemplate(server);
    templatesReady.set(server, ready);
  }
  return ready;
};

/**
 * A fresh database copied from the migrated template (milliseconds instead of a migration run),
 * or an empty one for tests of migrating itself.
 */
export async function createServerDatabase(
  options: { empty?: boolean } = {},
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tasks_test_${randomBytes(6).toString('hex')}`;
  if (!options.empty) await ensureServerTemplate();
  await onServer((c) => c.query(`CREATE DATABASE ${name}${options.empty ? '' : ` TEMPLATE ${templateDatabase()}`}`));
  return {
    url: databaseUrl(name),
    drop: () => onServer((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * What a server process started by a test needs to run on the test's project: on the postgres
 * project a database of its own (and the secret DATABASE_URL requires); on the embedded project
 * nothing, since the process makes its own database in its DATA_DIR.
 */
export async function processDatabase(): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (process.env.TEST_DB !== 'postgres') return { env: {}, drop: async () => {} };
  const created = await createServerDatabase();
  return {
    env: { DATABASE_URL: created.url, JWT_SECRET: 'a-secret-for-the-process-test-0123456789abcdef' },
    drop: created.drop,
  };
}
