import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authOf } from '../platform/auth.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import { pageOf, pageRequest } from '../platform/pagination.ts';
import * as s from './schemas.ts';
import type { InboxService } from './service.ts';

export interface InboxRoutesOptions {
  service: InboxService;
}

const tags = ['inbox'];

export const inboxRoutes: FastifyPluginAsyncTypebox<InboxRoutesOptions> = async (app, { service }) => {
  app.addSchema(s.InboxItem);
  app.addSchema(s.InboxPage);
  app.addSchema(s.UnreadCount);

  app.get(
    '/api/inbox/',
    {
      schema: {
        tags,
        operationId: 'listInbox',
        summary: 'The caller’s inbox items, newest first',
        description:
          'Paginated. `?unread=true`: only those not read yet. Items of tasks the caller no longer sees are left out.',
        querystring: s.InboxListQuery,
        response: { 200: Type.Ref(s.InboxPage), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, items } = await service.list(authOf(request), request.query.unread === true, page);
      return pageOf(request, page, count, items);
    },
  );

  app.get(
    '/api/inbox/unread-count/',
    {
      schema: {
        tags,
        operationId: 'inboxUnreadCount',
        summary: 'How many of the caller’s items are not read yet',
        description: 'Of tasks the caller still sees; for a badge.',
        response: { 200: Type.Ref(s.UnreadCount), ...errorResponses(401) },
      },
    },
    async (request) => service.unreadCount(authOf(request)),
  );

  app.post(
    '/api/inbox/:id/read/',
    {
      schema: {
        tags,
        operationId: 'readInboxItem',
        summary: 'Mark one of the caller’s items read',
        description: 'Another user’s item: 404.',
        params: IdParams,
        response: { 200: Type.Ref(s.InboxItem), ...errorResponses(401, 404) },
      },
    },
    async (request) => service.read(authOf(request), request.params.id),
  );

  app.post(
    '/api/inbox/read-all/',
    {
      schema: {
        tags,
        operationId: 'readAllInbox',
        summary: 'Mark all the caller’s items read',
        description: 'Items read before keep when they were read.',
        response: { 204: Type.Null(), ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      await service.readAll(authOf(request));
      return reply.code(204).send(null);
    },
  );

  for (const [method, watching] of [
    ['POST', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/api/tasks/:id/watch/',
      schema: {
        tags,
        operationId: watching ? 'watchTask' : 'unwatchTask',
        summary: watching ? 'Watch a task: its comments and status changes reach the inbox' : 'Stop watching a task',
        description: 'Anyone who sees the task. An archived project: 409.',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 404) },
      },
      handler: async (request, reply) => {
        await service.setWatching(authOf(request), request.params.id, watching);
        return reply.code(204).send(null);
      },
    });
  }
};
