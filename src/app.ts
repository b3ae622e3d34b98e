import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Ajv } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { accountsRoutes } from './accounts/routes.ts';
import { attachmentsRoutes } from './attachments/routes.ts';
import { commentsRoutes } from './comments/routes.ts';
import { inboxRoutes } from './inbox/routes.ts';
import { labelsRoutes } from './labels/routes.ts';
import { notificationsRoutes } from './notifications/routes.ts';
import { registerAuthentication } from './platform/auth.ts';
import { HttpError, registerErrorHandling } from './platform/errors.ts';
import { registerMetrics } from './platform/metrics.ts';
import { operationsRoutes } from './platform/operations.ts';
import { registerSecurityHeaders } from './platform/security-headers.ts';
import { validatorFactory } from './platform/validation.ts';
import { registerWebApp } from './platform/web.ts';
import { projectsRoutes } from './projects/routes.ts';
import { realtimeRoutes } from './realtime/routes.ts';
import type { Services } from './services.ts';
import { tasksRoutes } from './tasks/routes.ts';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** Django's validation of a Host: a name or an IPv6 literal, and a port. */
const VALID_HOST = /^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:[0-9]{1,5})?$/i;

/** Keeps access tokens given as ?token= (WebSocket upgrades from browsers) out of the logs. */
export const redactUrl = (url: string) => url.replace(/([?&](?:token|access|refresh)=)[^&]*/gi, '$1[redacted]');

/**
 * The API: plugins and routes over the services (services.ts), whose jobs must be started with the
 * queues created, since requests enqueue jobs in their transactions. Closing the app leaves the
 * services open: they are their creator's to close.
 */
export async function buildApp(services: Services): Promise<FastifyInstance> {
  const { config, db, jobs, redis, tokens, hub, realtime } = services;
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
          '*.password',
          '*.token',
        ],
        censor: '[redacted]',
      },
      serializers: {
        req: (req) => ({
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.ip,
        }),
      },
    },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    trustProxy: config.trustProxy,
    bodyLimit: 1024 * 1024,
    // A client that trickles its request (slowloris) is cut off instead of holding a socket.
    requestTimeout: 30_000,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Paths the router cannot even read get the API's error shape too: broken percent-escapes are
    // a 400, a parameter too long to be an id names nothing (404).
    frameworkErrors: (error, _request, reply) => {
      const answer = reply as unknown as FastifyReply;
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return answer.code(404).send({ detail: 'Not found.' });
      return answer.code(400).send({ detail: 'The request path is not valid.' });
    },
    schemaController: { compilersFactory: { buildValidator: validatorFactory() } },
    ajv: {
      // DRF reports every invalid field at once; verbose gives the messages the failing schema.
      customOptions: { allErrors: true, verbose: true },
      // A schema's own message for a failed check, named as an OpenAPI extension so the document
      // that shows it stays valid.
      plugins: [(ajv: Ajv) => ajv.addKeyword('x-error-message')],
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies are JSON only: anything else is a 415, as DRF answers with only its JSON parser.
  app.removeContentTypeParser('text/plain');

  // While stopping, answers in flight close their keep-alive connection, or close() would wait for the client.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.decorateRequest('linkOrigin', '');
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // As Django does (DisallowedHost): a Host that is no host[:port] is refused, since links in
    // answers would be built from it when PUBLIC_URL is not set.
    const host = VALID_HOST.exec(request.host);
    if (host === null || Number(host[2]?.slice(1) ?? 0) > 65535) {
      throw new HttpError(400, { detail: 'Invalid Host header.' });
    }
    request.linkOrigin = config.linkOrigin ?? `${request.protocol === 'https' ? 'https' : 'http'}://${request.host}`;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  // A POST without a body is validated as an empty object, so the client hears which fields are required.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && ['POST', 'PUT', 'PATCH'].includes(request.method)) request.body = {};
  });

  registerErrorHandling(app);
  registerSecurityHeaders(app);
  // Browsers on other origins may call the API only when CORS_ORIGINS names them.
  await app.register(cors, {
    origin: config.corsOrigins.length === 0 ? false : config.corsOrigins,
    credentials: true,
    exposedHeaders: [
      'ETag',
      'Retry-After',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'X-Request-Id',
    ],
  });
  await app.register(rateLimit, {
    // Every API route is limited per user (per address before login), RATE_LIMIT a minute; the
    // credential routes have their own, stricter limit per address. Counted after authentication.
    global: true,
    max: config.rateLimit,
    timeWindow: 60_000,
    hook: 'preHandler',
    // auth is only decorated inside the API context; elsewhere it is absent, not null
    keyGenerator: (request) => (request.auth ? `user:${request.auth.userId}` : `ip:${request.ip}`),
    allowList: (request) => !(request.routeOptions.url ?? '').startsWith('/api/'),
    enableDraftSpec: true,
    // With Redis the limits hold across every process; while it is down, requests go through.
    redis,
    skipOnError: true,
    nameSpace: 'tasks-ratelimit:',
    errorResponseBuilder: (_request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new HttpError(429, { detail: `Request was throttled. Expected available in ${seconds} seconds.` });
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tasks API',
        version: '1.0.0',
        description:
          'Multi-tenant task manager. Authenticate with `Authorization: Bearer <access>` from /api/auth/login/.',
      },
      // Paths are absolute on the origin that serves the document, whatever its address.
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'auth', description: 'Accounts, sessions and tokens, the company’s people and its invitations.' },
        { name: 'tasks', description: 'The company’s tasks: lists and search, changes, history and statistics.' },
        { name: 'projects', description: 'Projects, their members and privacy: who sees and changes which tasks.' },
        { name: 'labels', description: 'The company’s labels, which tasks carry.' },
        { name: 'attachments', description: 'Files attached to tasks: upload, list, download by signed link, delete.' },
        { name: 'notifications', description: 'The emails sent about tasks, and each user’s choice of which to get.' },
        { name: 'comments', description: 'Comments on tasks, with @username mentions.' },
        { name: 'inbox', description: 'Each user’s inbox of what happened to their tasks, and the tasks they watch.' },
        { name: 'operations', description: 'Probes for orchestrators and load balancers; no authentication.' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { deepLinking: true } });
  app.get('/api/schema/', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  await app.register(operationsRoutes, { db, redis });
  const metrics = registerMetrics(app, { db, jobs, token: config.metricsToken });

  realtime.onDelivered = (sockets) => metrics.eventsDelivered.inc(sockets);
  metrics.openSockets(() => hub.size);
  await app.register(realtimeRoutes, {
    tokens,
    hub,
    realtime,
    pingIntervalMs: config.wsPingIntervalMs,
    maxSocketsPerUser: config.wsMaxSocketsPerUser,
    messageRate: config.wsMessageRate,
  });
  // Everything under this context is authenticated unless a route says it is public.
  await app.register(async (api) => {
    registerAuthentication(api, tokens);
    await api.register(accountsRoutes, {
      service: services.accounts,
      // Counted on arrival, before validation: a brute-force attempt is throttled whatever it sends.
      authRateLimit: { max: config.authRateLimit, timeWindow: 60_000, hook: 'onRequest' },
    });
    await api.register(tasksRoutes, { service: services.tasks });
    await api.register(projectsRoutes, { service: services.projects, statuses: services.statuses });
    await api.register(labelsRoutes, { service: services.labels });
    await api.register(notificationsRoutes, { service: services.notifications });
    await api.register(attachmentsRoutes, {
      service: services.attachments,
      tokens,
      signer: services.signer,
      maxBytes: config.attachmentMaxBytes,
    });
    await api.register(commentsRoutes, { service: services.comments });
    await api.register(inboxRoutes, { service: services.inbox });
  });
  // The web app at `/`, on the API's origin so its cookie and socket need no CORS.
  await registerWebApp(app);

  return app;
}
