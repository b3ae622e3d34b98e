import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { openPglite, openPostgres } from '../src/platform/db/index.ts';
import { CACHE_DIR, databaseUrl, onServer, snapshotPath, TEMPLATE_DB } from './databases.ts';

/** Migrates once per run what every test file then copies: a PGlite snapshot and a server template. */
export default async function setup() {
  mkdirSync(CACHE_DIR, { recursive: true });
  const snapshot = snapshotPath();
  if (!existsSync(snapshot)) {
    const db = await openPglite();
    await db.migrate();
    const dump = await (db.client as import('@electric-sql/pglite').PGlite).dumpDataDir('none');
    writeFileSync(snapshot, Buffer.from(await dump.arrayBuffer()));
    await db.close();
  }

  await onServer(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  });
  const db = openPostgres({ url: databaseUrl(TEMPLATE_DB) });
  await db.migrate();
  await db.close();
}
