import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Redis } from 'ioredis';
import type { Database } from './db/index.ts';

const Status = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) });

/** Liveness and readiness for load balancers and orchestrators. */
const withTimeout = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref()),
  ]);

export const operationsRoutes: FastifyPluginAsyncTypebox<{ db: Database; redis?: Redis }> = async (
  app,
  { db, redis },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getHealth',
        description: 'Answers 200 while the process runs, whatever its dependencies: the liveness probe.',
        summary: 'The process is up',
        security: [],
        response: { 200: Status },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getReadiness',
        description:
          'Answers 503 with the failing checks named when a dependency does not answer: the readiness probe.',
        summary: 'The process can serve: its database (and Redis, when configured) answer',
        security: [],
        response: { 200: Status, 503: Status },
      },
    },
    async (request, reply) => {
      const checks: Record<string, string> = {};
      const probes: Array<[string, () => Promise<unknown>]> = [['database', () => db.ping()]];
      if (redis !== undefined) probes.push(['redis', () => redis.ping()]);
      await Promise.all(
        probes.map(async ([name, probe]) => {
          try {
            await withTimeout(probe(), 2_000);
            checks[name] = 'ok';
          } catch (error) {
            request.log.warn({ err: error, dependency: name }, 'readiness check failed');
            checks[name] = 'unavailable';
          }
        }),
      );
      const ready = Object.values(checks).every((state) => state === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks });
    },
  );
};
