import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authOf } from '../platform/auth.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import { PageQuery, pageOf, pageRequest } from '../platform/pagination.ts';
import * as s from './schemas.ts';
import { etagOf, type TasksService } from './service.ts';

export interface TasksRoutesOptions {
  service: TasksService;
}

const tags = ['tasks'];

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'Retries with the same key within 24 h get the first answer and create nothing.',
    }),
  ),
});

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({ description: 'The ETag of the version read: a change made since answers 412.' }),
  ),
});

export const tasksRoutes: FastifyPluginAsyncTypebox<TasksRoutesOptions> = async (app, { service }) => {
  for (const schema of [
    s.Task,
    s.TaskPage,
    s.Statistics,
    s.HistoryEntry,
    s.HistoryPage,
    s.ExternalTasksAnswer,
    s.DeletedTask,
    s.DeletedPage,
  ]) {
    app.addSchema(schema);
  }
  const taskRef = Type.Ref(s.Task);
  // django-filter skips a filter sent empty (`?status=` from an "all" choice); so do these lists.
  app.addHook('preValidation', async (request) => {
    const query = request.query as Record<string, unknown>;
    for (const [name, value] of Object.entries(query)) if (value === '') delete query[name];
  });

  app.get(
    '/api/tasks/',
    {
      schema: {
        tags,
        operationId: 'listTasks',
        description:
          'Filters by status, priority, assignee, creator and dates; `search` is full-text, ranked; paginated.',
        summary: 'Tasks of the caller’s company, filtered, searched and ordered',
        querystring: s.TaskListQuery,
        response: { 200: Type.Ref(s.TaskPage), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, tasks } = await service.listTasks(authOf(request), request.query, page);
      return pageOf(request, page, count, tasks);
    },
  );

  app.post(
    '/api/tasks/',
    {
      schema: {
        tags,
        operationId: 'createTask',
        description: 'With an Idempotency-Key header, a retry answers the first result and creates nothing.',
        summary: 'Create a task; created_by and company are the caller’s',
        headers: IdempotencyHeaders,
        body: s.TaskBody,
        response: { 201: taskRef, ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      const { task, replayed } = await service.create(
        authOf(request),
        request.body as s.TaskBody,
        request.headers['idempotency-key'],
      );
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(task);
    },
  );

  // Registered as static paths, so they are never read as a task id.
  app.get(
    '/api/tasks/my_tasks/',
    {
      schema: {
        tags,
        operationId: 'listMyTasks',
        description: 'The same filters, search, ordering and pagination as the task list.',
        summary: 'Tasks assigned to the caller; the list’s filters apply',
        querystring: s.TaskListQuery,
        response: { 200: Type.Ref(s.TaskPage), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, tasks } = await service.myTasks(authOf(request), request.query, page);
      return pageOf(request, page, count, tasks);
    },
  );

  app.get(
    '/api/tasks/statistics/',
    {
      schema: {
        tags,
        operationId: 'getTaskStatistics',
        description:
          'By status, priority and assignee, overdue, completion rate and time, and tasks created per day over 30 days.',
        summary: 'Counts and rates over the caller’s company’s tasks',
        querystring: s.StatisticsQuery,
        response: { 200: Type.Ref(s.Statistics), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => service.statistics(authOf(request), request.query.project),
  );

  app.get(
    '/api/tasks/external-tasks/',
    {
      schema: {
        tags,
        operationId: 'listExternalTasks',
        description: 'The external feed is configured on the server; external_error says why it could not be read.',
        summary: 'A page of the company’s tasks, then the external feed’s; a failing feed leaves only the local ones',
        querystring: s.TaskListQuery,
        response: { 200: Type.Ref(s.ExternalTasksAnswer), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => service.external(authOf(request), request.query, pageRequest(request.query)),
  );

  app.get(
    '/api/tasks/deleted/',
    {
      schema: {
        tags,
        operationId: 'listDeletedTasks',
        description: 'Paginated ids and deletion times, oldest first.',
        summary: 'Ids of tasks deleted since a moment: with updated_after, how a reconnecting client catches up',
        querystring: s.DeletedQuery,
        response: { 200: Type.Ref(s.DeletedPage), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, tasks } = await service.deleted(authOf(request), request.query.since, page);
      return pageOf(request, page, count, tasks);
    },
  );

  app.get(
    '/api/tasks/:id/',
    {
      schema: {
        tags,
        operationId: 'getTask',
        description: 'Send the ETag back as If-Match when changing the task to refuse a lost update.',
        summary: 'One task, with its ETag',
        params: IdParams,
        response: { 200: taskRef, ...errorResponses(401, 404) },
      },
    },
    async (request, reply) => {
      const task = await service.get(authOf(request), request.params.id);
      return reply.header('etag', etagOf(task)).send(task);
    },
  );

  const writes = [
    {
      method: 'PUT',
      body: s.TaskBody,
      operationId: 'replaceTask',
      summary: 'Replace a task’s fields (title required)',
    },
    { method: 'PATCH', body: s.TaskPatch, operationId: 'updateTask', summary: 'Change the fields given' },
  ] as const;
  for (const { method, body, operationId, summary } of writes) {
    app.route({
      method,
      url: '/api/tasks/:id/',
      schema: {
        tags,
        operationId,
        description: 'With If-Match, a task changed since that version answers 412 and is left as it is.',
        summary,
        params: IdParams,
        headers: IfMatchHeaders,
        body,
        response: { 200: taskRef, ...errorResponses(400, 401, 404, 412) },
      },
      handler: async (request, reply) => {
        const auth = authOf(request);
        const task = await service.update(
          auth,
          request.params.id,
          request.body as s.TaskPatch,
          request.headers['if-match'],
        );
        return reply.header('etag', etagOf(task)).send(task);
      },
    });
  }

  app.delete(
    '/api/tasks/:id/',
    {
      schema: {
        tags,
        operationId: 'deleteTask',
        description: 'Everyone in the company is told over the live connection.',
        summary: 'Delete a task (its history stays, for admins)',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 404) },
      },
    },
    async (request, reply) => {
      await service.delete(authOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/tasks/:id/history/',
    {
      schema: {
        tags,
        operationId: 'listTaskHistory',
        description: 'Each entry names the actor and, per field, the old and the new value.',
        summary: 'Who changed what and when, newest first; a deleted task’s for admins only',
        params: IdParams,
        querystring: PageQuery,
        response: { 200: Type.Ref(s.HistoryPage), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, entries } = await service.history(authOf(request), request.params.id, page);
      return pageOf(request, page, count, entries);
    },
  );
};
