import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { webBuildIsStale } from '../web/build.ts';
import { type AppConfig, ConfigError, loadConfig, resolveJwtSecret } from './platform/config.ts';
import { ownerOnlyDataDir } from './platform/data-dir.ts';
import type { Database } from './platform/db/index.ts';
import { DataDirLockedError } from './platform/db/lock.ts';
import { openDatabase } from './platform/db/open.ts';

/**
 * `npm start` passes --web-if-stale: the web app is built first when its build is missing or older
 * than its sources. In a process of its own, so that Vite does not stay in the server's memory,
 * and meanwhile the database starts. The server reads the build when it registers its routes.
 */
function buildWebIfStale(): Promise<void> {
  if (!process.argv.includes('--web-if-stale') || !webBuildIsStale()) return Promise.resolve();
  const script = fileURLToPath(new URL('../web/build.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`building the web app failed (${code})`))));
  });
}

async function migrate(config: AppConfig, db: Database): Promise<void> {
  if (config.migrateOnStart) {
    await db.migrate();
    return;
  }
  const pending = await db.pendingMigrations();
  if (pending > 0) {
    console.error(
      `Cannot start: the database is ${pending} migration(s) behind this code and MIGRATE_ON_START is false; run \`npm run cli -- migrate\` first`,
    );
    await db.close();
    process.exit(1);
  }
}

/**
 * On a first start the embedded server's initdb takes about a second, and loading the rest of the
 * app through tsx longer: they run at once, the database on the other core (the rest of the app is
 * imported only here, so that the database's start does not wait for it).
 */
async function start() {
  let config: AppConfig;
  let db: Database;
  let tightened: string[];
  let serve: typeof import('./serve.ts').serve;
  try {
    const base = loadConfig();
    tightened = ownerOnlyDataDir(base.dataDir);
    config = resolveJwtSecret(base);
    [db, { serve }] = await Promise.all([
      openDatabase(base).then(async (opened) => {
        await migrate(config, opened);
        return opened;
      }),
      import('./serve.ts'),
      buildWebIfStale(),
    ]);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      console.error(`Cannot start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  await serve(config, db, tightened);
}

await start();
