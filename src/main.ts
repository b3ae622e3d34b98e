import { buildApp } from './app.ts';
import { type AppConfig, ConfigError, loadConfig, resolveJwtSecret } from './platform/config.ts';
import { type Database, openDatabase } from './platform/db/index.ts';
import { DataDirLockedError } from './platform/db/lock.ts';

async function start() {
  let config: AppConfig;
  let db: Database;
  try {
    const base = loadConfig();
    config = resolveJwtSecret(base);
    db = await openDatabase(base);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      console.error(`Cannot start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  await db.migrate();
  const app = await buildApp({ config, db });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'stopping: finishing in-flight requests');
    try {
      // Stops accepting, waits for requests in flight, then closes what the app opened.
      await app.close();
      await db.close();
      app.log.info('stopped');
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'unclean stop');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  app.log.info(
    { database: db.driver === 'pglite' ? `embedded (${config.dataDir})` : 'postgresql' },
    `serving on ${config.publicUrl}`,
  );
}

await start();
