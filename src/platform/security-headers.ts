import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

/**
 * helmet's headers on every answer. The middleware is built once: @fastify/helmet rebuilds it, CSP
 * parsing included, on every request, which showed up in profiles of the busiest endpoints.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  const middleware = helmet({
    // The API docs page and the web app load only their own scripts; the socket is same-origin.
    contentSecurityPolicy: { directives: { 'connect-src': ["'self'"] } },
  });
  app.addHook('onRequest', (request, reply, done) => {
    middleware(request.raw, reply.raw, (error?: unknown) => done(error as Error | undefined));
  });
}
