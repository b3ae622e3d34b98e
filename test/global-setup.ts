import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { type Database, openPglite, openPostgres } from '../src/platform/db/index.ts';
import { Jobs } from '../src/platform/jobs.ts';
import { CACHE_DIR, databaseUrl, onServer, snapshotPath, templateDatabase } from './databases.ts';

/** The migrations and pg-boss's own schema, which every test's job queue would otherwise create. */
async function prepare(db: Database) {
  await db.migrate();
  const jobs = new Jobs(db, { logger: console, processing: false });
  await jobs.start();
  await jobs.stop();
}

/**
 * Migrates once what every test file then copies: a PGlite snapshot and a server template, both
 * named by the migrations they hold. Each is built under a temporary name and renamed into place,
 * so runs that overlap (a developer's and CI's) never see a half-built one.
 */
export default async function setup() {
  mkdirSync(CACHE_DIR, { recursive: true });
  const snapshot = snapshotPath();
  if (!existsSync(snapshot)) {
    const db = await openPglite();
    await prepare(db);
    const dump = await (db.client as PGlite).dumpDataDir('none');
    const partial = `${snapshot}.${process.pid}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, snapshot);
    await db.close();
  }

  const template = templateDatabase();
  const exists = await onServer(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])).rowCount,
  );
  if (exists) return;
  const partial = `${template}_${randomBytes(3).toString('hex')}`;
  await onServer((c) => c.query(`CREATE DATABASE ${partial}`));
  const db = openPostgres({ url: databaseUrl(partial) });
  await prepare(db);
  await db.close();
  await onServer(async (c) => {
    try {
      await c.query(`ALTER DATABASE ${partial} RENAME TO ${template}`);
    } catch {
      // another run finished first: theirs is the same
      await c.query(`DROP DATABASE IF EXISTS ${partial}`);
    }
  });
}
