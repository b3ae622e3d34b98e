import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

/**
 * The shared Redis connection, when REDIS_URL is set. Commands fail fast while Redis is away
 * instead of queueing, so callers can fall back (rate limits skip, readiness says 503) and the
 * client reconnects by itself when Redis returns.
 */
export function openRedis(url: string, log: Pick<FastifyBaseLogger, 'warn'>): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let down = false;
  redis.on('error', (error) => {
    if (!down) log.warn({ err: error }, 'redis unavailable');
    down = true;
  });
  redis.on('ready', () => {
    down = false;
  });
  return redis;
}
