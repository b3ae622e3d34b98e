import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from './db/index.ts';
import { HttpError } from './errors.ts';
import type { Jobs, QueueStats } from './jobs/index.ts';

export interface Metrics {
  registry: Registry;
  /** Events written to sockets by this process. */
  eventsDelivered: Counter;
  /** Set by the realtime feature: how many sockets this process holds now. */
  openSockets(read: () => number): void;
}

/**
 * Prometheus metrics at /metrics, one registry per app (tests build many apps in one process).
 * With METRICS_TOKEN set, scrapers must send it as a bearer token.
 */
export function registerMetrics(
  app: FastifyInstance,
  options: { db: Database; jobs: Jobs; token: string | undefined },
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request durations by route pattern and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The pattern, not the URL: ids in paths would make a series per task.
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000);
  });

  const eventsDelivered = new Counter({
    name: 'websocket_events_delivered_total',
    help: 'Task events written to WebSocket clients by this process',
    registers: [registry],
  });
  let sockets = () => 0;
  new Gauge({
    name: 'websocket_connections',
    help: 'Open WebSocket connections on this process',
    registers: [registry],
    collect() {
      this.set(sockets());
    },
  });

  const pool = options.db.client;
  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });

  // From the shared queue tables: any process shows the whole queue, workers' jobs included. Both
  // gauges of one scrape share one read.
  let reading: Promise<QueueStats[]> | undefined;
  const queueStats = () => {
    reading ??= options.jobs.stats().finally(() => setImmediate(() => (reading = undefined)));
    return reading;
  };
  new Gauge({
    name: 'jobs',
    help: 'Jobs by queue and state (completed ones until pg-boss archives them)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { queue, states } of await queueStats()) {
        for (const state of ['created', 'retry', 'active', 'completed', 'failed'] as const) {
          this.set({ queue, state }, states[state] ?? 0);
        }
      }
    },
  });
  new Gauge({
    name: 'jobs_queue_lag_seconds',
    help: 'How long the oldest job that is due has waited past its start time',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      for (const { queue, lagSeconds } of await queueStats()) this.set({ queue }, lagSeconds);
    },
  });

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (options.token !== undefined && request.headers.authorization !== `Bearer ${options.token}`) {
      throw new HttpError(401, { detail: 'Authentication credentials were not provided.' });
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  return {
    registry,
    eventsDelivered,
    openSockets(read) {
      sockets = read;
    },
  };
}
