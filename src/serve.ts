import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from './app.ts';
import { createMailer } from './notifications/mailer.ts';
import type { AppConfig } from './platform/config.ts';
import type { Database } from './platform/db/index.ts';
import { rlsBypassReasons } from './platform/db/login-role.ts';
import { Jobs } from './platform/jobs/index.ts';
import { operationsRoutes } from './platform/operations.ts';
import { trackClients } from './platform/shutdown.ts';
import { createQueues, createServices, startWorkers } from './services.ts';

/**
 * A worker serves no API, but still answers /healthz and /readyz on PORT so that an orchestrator can
 * probe it like the API processes and restart one that lost its database.
 */
async function buildHealthServer(config: AppConfig, db: Database): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: config.logLevel } });
  await app.register(operationsRoutes, { db });
  return app;
}

/**
 * The process's work once its database is open and migrated (main.ts): jobs, services, the HTTP
 * server, and the stop on SIGTERM. A module of its own so that main.ts loads it while the database
 * starts. `tightened`: the DATA_DIR paths made owner-only, to warn about.
 */
export async function serve(config: AppConfig, db: Database, tightened: string[]): Promise<void> {
  const logger = pino({ level: config.logLevel });
  if (tightened.length > 0) {
    logger.warn(
      { dataDir: config.dataDir, tightened: tightened.length, first: tightened.slice(0, 5) },
      'DATA_DIR was open to other local users: made owner-only',
    );
  }
  const pglite = path.join(config.dataDir, 'pgdata');
  if (config.databaseUrl === undefined && existsSync(pglite)) {
    logger.warn(
      { pglite },
      'DATA_DIR holds the PGlite database of an earlier version, which this one does not read: `npm run cli -- import-pglite` carries it over (into a DATA_DIR with no company yet)',
    );
  }
  // The embedded server is the app's own, reached only through its private socket, so its login is
  // the cluster's superuser; a server others run is where a login bypassing row-level security is a
  // mistake to point out.
  const bypass = config.databaseUrl === undefined ? [] : await rlsBypassReasons(db);
  if (bypass.length > 0) {
    logger.warn(
      { reasons: bypass },
      'the database login role bypasses row-level security, so company isolation rests on the queries alone: log in as a role made by `npm run cli -- create-login-role` (see Production in the README)',
    );
  }
  // Every role starts the queue: an api process sends jobs in its transactions, the others also work them.
  const processing = config.role !== 'api';
  const jobs = new Jobs(db, { logger, processing, maintenanceIntervalSeconds: config.jobsMaintenanceIntervalSeconds });
  await jobs.start();
  await createQueues(jobs, config);
  // A worker serves no sockets and no rate limits: it needs no Redis (and waits on none when it is away).
  const services = createServices(
    config.role === 'worker' ? { ...config, redisUrl: undefined } : config,
    db,
    jobs,
    logger,
  );
  const app = config.role === 'worker' ? await buildHealthServer(config, db) : await buildApp(services);
  const mailer = createMailer(config, (details, message) => logger.info(details, message));
  if (processing) await startWorkers(services, mailer, logger);

  const clients = trackClients(app);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info(
      { signal, graceSeconds: config.shutdownGraceSeconds },
      'stopping: finishing in-flight requests and running jobs',
    );
    // Whatever clients do (a body that never ends, a socket never closed), the process ends within
    // the grace, before an orchestrator's own (usually 30 s) kills it without a word.
    setTimeout(() => {
      const cut = clients.inFlight();
      app.log.warn({ requests: cut.length, cut }, 'stop: cut what was left after the grace');
      app.server.closeAllConnections();
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    try {
      // Stops accepting, waits for requests in flight and running jobs, then closes what the app opened.
      const closed = Promise.all([app.close(), jobs.stop()]);
      clients.closeSilent();
      await closed;
      await services.close();
      mailer.close();
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
    { role: config.role, database: config.databaseUrl === undefined ? `embedded (${config.dataDir})` : 'postgresql' },
    config.role === 'worker' ? `working jobs; health on port ${config.port}` : `serving on ${config.publicUrl}`,
  );
}
