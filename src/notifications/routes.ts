import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authOf } from '../platform/auth.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import { PageQuery, pageOf, pageRequest } from '../platform/pagination.ts';
import * as s from './schemas.ts';
import type { NotificationsService } from './service.ts';

export interface NotificationsRoutesOptions {
  service: NotificationsService;
}

const tags = ['notifications'];

export const notificationsRoutes: FastifyPluginAsyncTypebox<NotificationsRoutesOptions> = async (app, { service }) => {
  for (const schema of [s.Notification, s.NotificationPage, s.Preferences]) app.addSchema(schema);
  const page = Type.Ref(s.NotificationPage);
  const preferences = Type.Ref(s.Preferences);

  app.get(
    '/api/notifications/',
    {
      schema: {
        tags,
        operationId: 'listNotifications',
        description: 'Filtered by status and task; paginated.',
        summary: 'The caller’s own email notifications, newest first',
        querystring: s.NotificationListQuery,
        response: { 200: page, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const pageRequested = pageRequest(request.query);
      const { count, notifications } = await service.list(authOf(request), request.query, pageRequested);
      return pageOf(request, pageRequested, count, notifications);
    },
  );

  app.get(
    '/api/tasks/:id/notifications/',
    {
      schema: {
        tags,
        operationId: 'listTaskNotifications',
        description: 'Paginated; a deleted task’s follow the same rule as its history.',
        summary: 'The email notifications about one task, to anyone in the company, newest first',
        params: IdParams,
        querystring: PageQuery,
        response: { 200: page, ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const pageRequested = pageRequest(request.query);
      const { count, notifications } = await service.forTask(authOf(request), request.params.id, pageRequested);
      return pageOf(request, pageRequested, count, notifications);
    },
  );

  app.get(
    '/api/notifications/preferences/',
    {
      schema: {
        tags,
        operationId: 'getNotificationPreferences',
        description:
          'Which emails the caller receives: assignments, status changes, a daily digest, unblocked tasks, mentions, comments.',
        summary: 'The caller’s email preferences',
        response: { 200: preferences, ...errorResponses(401) },
      },
    },
    (request) => service.preferences(authOf(request)),
  );

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: '/api/notifications/preferences/',
      schema: {
        tags,
        operationId: method === 'PUT' ? 'replaceNotificationPreferences' : 'updateNotificationPreferences',
        description:
          method === 'PUT'
            ? 'email_on_assignment, email_on_status_change and daily_digest are required; the others, left out, keep their value.'
            : 'A preference left out keeps its value.',
        summary: 'Change the caller’s email preferences; fields left out keep their value',
        body: method === 'PUT' ? s.PreferencesPut : s.PreferencesBody,
        response: { 200: preferences, ...errorResponses(400, 401) },
      },
      handler: (request) => service.updatePreferences(authOf(request), request.body),
    });
  }
};
