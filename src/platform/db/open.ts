/*
 * Opening the database, in a module that loads no more than the embedded server needs (node-postgres,
 * not drizzle nor the schema, which index.ts brings in afterwards): on a first start the server's
 * initdb is the longest step, so src/main.ts starts it before loading the rest.
 */

import { startEmbeddedPostgres } from './embedded.ts';
import type { Database } from './index.ts';
import { lockDataDir } from './lock.ts';

/**
 * The default without DATABASE_URL: a PostgreSQL server of the app's own in DATA_DIR (see
 * embedded.ts), started here and stopped by close(). DATA_DIR's lock comes first: the server's
 * start stops a server left by an app that was killed, which must not be a live app's.
 */
export async function openEmbedded(options: { dataDir: string; onError?: (error: Error) => void }): Promise<Database> {
  const release = lockDataDir(options.dataDir);
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    server = await startEmbeddedPostgres({
      dir: options.dataDir,
      // The app and its database live and die together: without it every request would fail
      // until someone restarts the app, so it ends now, for its supervisor (or its user) to
      // start it again, which recovers the database.
      onExit: () => {
        console.error(
          `The embedded PostgreSQL stopped unexpectedly (its log: ${options.dataDir}/postgres/server.log); exiting`,
        );
        process.exit(1);
      },
    });
  } catch (error) {
    release();
    throw error;
  }
  const { openPostgres } = await import('./index.ts');
  const db = openPostgres({ url: server.url, onError: options.onError });
  return {
    ...db,
    async close() {
      try {
        await db.close();
        await server.stop();
      } finally {
        release();
      }
    },
  };
}

export function openDatabase(
  config: { databaseUrl: string | undefined; dataDir: string },
  onError?: (error: Error) => void,
): Promise<Database> {
  const url = config.databaseUrl;
  return url !== undefined
    ? import('./index.ts').then(({ openPostgres }) => openPostgres({ url, onError }))
    : openEmbedded({ dataDir: config.dataDir, onError });
}
