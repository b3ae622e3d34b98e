import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authOf } from '../platform/auth.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import { pageOf, pageRequest } from '../platform/pagination.ts';
import * as s from './schemas.ts';
import type { CommentsService } from './service.ts';

export interface CommentsRoutesOptions {
  service: CommentsService;
}

const tags = ['comments'];

export const commentsRoutes: FastifyPluginAsyncTypebox<CommentsRoutesOptions> = async (app, { service }) => {
  app.addSchema(s.CommentAuthor);
  app.addSchema(s.Comment);
  app.addSchema(s.CommentPage);
  const commentRef = Type.Ref(s.Comment);

  app.get(
    '/api/tasks/:id/comments/',
    {
      schema: {
        tags,
        operationId: 'listComments',
        summary: 'A task’s comments, oldest first',
        description: 'Paginated; anyone who sees the task reads them.',
        params: IdParams,
        querystring: s.CommentListQuery,
        response: { 200: Type.Ref(s.CommentPage), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, comments } = await service.list(authOf(request), request.params.id, page);
      return pageOf(request, page, count, comments);
    },
  );

  app.post(
    '/api/tasks/:id/comments/',
    {
      schema: {
        tags,
        operationId: 'createComment',
        summary: 'Comment on a task (anyone who sees it, viewers too)',
        description:
          'Each @username of a user who sees the task is a mention: they get a `mentioned` inbox item and watch the task, as the author does; watchers get a `commented` item. An archived project: 409.',
        params: IdParams,
        body: s.CommentBody,
        response: { 201: commentRef, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await service.create(authOf(request), request.params.id, request.body)),
  );

  app.patch(
    '/api/tasks/:id/comments/:comment_id/',
    {
      schema: {
        tags,
        operationId: 'updateComment',
        summary: 'Change a comment (its author only)',
        description: 'Others who see it: 403. Sets `edited`; users newly mentioned are told.',
        params: s.CommentParams,
        body: s.CommentBody,
        response: { 200: commentRef, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => service.update(authOf(request), request.params.id, request.params.comment_id, request.body),
  );

  app.delete(
    '/api/tasks/:id/comments/:comment_id/',
    {
      schema: {
        tags,
        operationId: 'deleteComment',
        summary: 'Delete a comment (its author, company admins, the project’s managers)',
        description: 'Others who see it: 403.',
        params: s.CommentParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await service.delete(authOf(request), request.params.id, request.params.comment_id);
      return reply.code(204).send(null);
    },
  );
};
