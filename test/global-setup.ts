import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { openPglite } from '../src/platform/db/index.ts';
import {
  CACHE_DIR,
  ensureServerTemplate,
  onServer,
  prepareDatabase,
  snapshotPath,
  templateDatabase,
} from './databases.ts';

/**
 * Templates of earlier migrations, which nothing will copy again. One a run is copying right now
 * cannot be dropped (PostgreSQL refuses while it is in use): it goes next time.
 */
async function dropStaleTemplates(): Promise<void> {
  const stale = await onServer(
    async (c) =>
      (
        await c.query<{ datname: string }>(
          `SELECT datname FROM pg_database WHERE datname ~ '^tasks_tpl_[0-9a-f]{16}$' AND datname <> $1`,
          [templateDatabase()],
        )
      ).rows,
  );
  for (const { datname } of stale) {
    await onServer((c) => c.query(`DROP DATABASE IF EXISTS ${datname}`)).catch(() => undefined);
  }
}

/**
 * Migrates once what every test file then copies: a PGlite snapshot and a server template, both
 * named by the migrations they hold. The snapshot, too, is written under a temporary name and
 * renamed into place, so overlapping runs never read a half-written one.
 */
export default async function setup() {
  mkdirSync(CACHE_DIR, { recursive: true });
  const snapshot = snapshotPath();
  if (!existsSync(snapshot)) {
    const db = await openPglite();
    await prepareDatabase(db);
    const dump = await (db.client as PGlite).dumpDataDir('none');
    const partial = `${snapshot}.${process.pid}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, snapshot);
    await db.close();
  }
  await ensureServerTemplate();
  await dropStaleTemplates();
}
