import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authOf } from '../platform/auth.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import { PageQuery, pageOf, pageRequest } from '../platform/pagination.ts';
import * as s from './schemas.ts';
import type { ProjectsService } from './service.ts';
import type { StatusesService } from './statuses.ts';

export interface ProjectsRoutesOptions {
  service: ProjectsService;
  statuses: StatusesService;
}

const tags = ['projects'];
const conflict = Type.Object(
  { detail: Type.String() },
  { description: 'The project is archived (read-only), or the change conflicts with its state: {"detail"}' },
);

export const projectsRoutes: FastifyPluginAsyncTypebox<ProjectsRoutesOptions> = async (app, { service, statuses }) => {
  for (const schema of [s.Project, s.ProjectPage, s.Member, s.MemberPage, s.WorkflowStatus]) app.addSchema(schema);
  const statusRef = Type.Ref(s.WorkflowStatus);
  const projectRef = Type.Ref(s.Project);

  app.get(
    '/api/projects/',
    {
      schema: {
        tags,
        operationId: 'listProjects',
        summary: 'The projects the caller sees, by name',
        description:
          'A company admin sees every project, a member the public ones and those they belong to, a guest only those they belong to. `archived=true` lists the archived ones instead.',
        querystring: s.ProjectListQuery,
        response: { 200: Type.Ref(s.ProjectPage), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, projects } = await service.list(authOf(request), request.query.archived === 'true', page);
      return pageOf(request, page, count, projects);
    },
  );

  app.post(
    '/api/projects/',
    {
      schema: {
        tags,
        operationId: 'createProject',
        summary: 'Create a project; the caller becomes its manager',
        description:
          'Company admins and members (guests: 403). Without `key`, one is made from the name. It starts with the statuses To do, In progress and Done.',
        body: s.ProjectBody,
        response: { 201: projectRef, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(authOf(request), request.body)),
  );

  app.get(
    '/api/projects/:id/',
    {
      schema: {
        tags,
        operationId: 'getProject',
        summary: 'One project, with the caller’s role in it',
        description: 'A project the caller does not see is a 404.',
        params: IdParams,
        response: { 200: projectRef, ...errorResponses(401, 404) },
      },
    },
    async (request) => service.get(authOf(request), request.params.id),
  );

  app.patch(
    '/api/projects/:id/',
    {
      schema: {
        tags,
        operationId: 'updateProject',
        summary: 'Change a project (its managers)',
        description:
          'The key cannot change once the project has had tasks. An archived project takes only `{"archived": false}`; the default project cannot become private or archived.',
        params: IdParams,
        body: s.ProjectPatch,
        response: { 200: projectRef, ...errorResponses(400, 401, 403, 404), 409: conflict },
      },
    },
    async (request) => service.update(authOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/projects/:id/',
    {
      schema: {
        tags,
        operationId: 'deleteProject',
        summary: 'Delete an empty project (its managers)',
        description: '409 while it has tasks, and for the default project.',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404), 409: conflict },
      },
    },
    async (request, reply) => {
      await service.delete(authOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/projects/:id/members/',
    {
      schema: {
        tags,
        operationId: 'listProjectMembers',
        summary: 'The project’s members and their roles',
        description:
          'Those given a role in the project; company admins and, in a public project, company members act in it without one.',
        params: IdParams,
        querystring: PageQuery,
        response: { 200: Type.Ref(s.MemberPage), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, members } = await service.members(authOf(request), request.params.id, page);
      return pageOf(request, page, count, members);
    },
  );

  app.put(
    '/api/projects/:id/members/:user_id/',
    {
      schema: {
        tags,
        operationId: 'setProjectMember',
        summary: 'Add a member to the project or change their role (its managers)',
        description: 'The user must be of the caller’s company; a guest can be a member or a viewer, never a manager.',
        params: s.MemberParams,
        body: s.MemberBody,
        response: { 200: Type.Ref(s.Member), ...errorResponses(400, 401, 403, 404), 409: conflict },
      },
    },
    async (request) => service.setMember(authOf(request), request.params.id, request.params.user_id, request.body.role),
  );

  app.delete(
    '/api/projects/:id/members/:user_id/',
    {
      schema: {
        tags,
        operationId: 'removeProjectMember',
        summary: 'Remove a member from the project (its managers)',
        description: 'They keep what their company role gives them: a company member still sees a public project.',
        params: s.MemberParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404), 409: conflict },
      },
    },
    async (request, reply) => {
      await service.removeMember(authOf(request), request.params.id, request.params.user_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/projects/:id/statuses/',
    {
      schema: {
        tags,
        operationId: 'listProjectStatuses',
        summary: 'The project’s workflow statuses, in position order',
        description: 'Not paginated: a project has at most 30.',
        params: IdParams,
        response: { 200: Type.Array(statusRef), ...errorResponses(401, 404) },
      },
    },
    async (request) => statuses.list(authOf(request), request.params.id),
  );

  app.post(
    '/api/projects/:id/statuses/',
    {
      schema: {
        tags,
        operationId: 'createProjectStatus',
        summary: 'Add a workflow status (the project’s managers)',
        description:
          'At the end, or at `position` with the others renumbered. Names are unique within the project in any letter case.',
        params: IdParams,
        body: s.StatusBody,
        response: { 201: statusRef, ...errorResponses(400, 401, 403, 404), 409: conflict },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await statuses.create(authOf(request), request.params.id, request.body)),
  );

  app.patch(
    '/api/projects/:id/statuses/:status_id/',
    {
      schema: {
        tags,
        operationId: 'updateProjectStatus',
        summary: 'Rename, recolour, move or recategorize a status (the project’s managers)',
        description:
          'A new category moves its tasks’ status and completed_at with it; the last status of category todo or done cannot leave it (409).',
        params: s.StatusParams,
        body: s.StatusPatch,
        response: { 200: statusRef, ...errorResponses(400, 401, 403, 404), 409: conflict },
      },
    },
    async (request) => statuses.update(authOf(request), request.params.id, request.params.status_id, request.body),
  );

  app.delete(
    '/api/projects/:id/statuses/:status_id/',
    {
      schema: {
        tags,
        operationId: 'deleteProjectStatus',
        summary: 'Delete a status, moving its tasks (the project’s managers)',
        description:
          'While tasks are in it, `move_to` must name another status of the project (409 otherwise). The last status of category todo or done cannot be deleted (409).',
        params: s.StatusParams,
        querystring: s.StatusDeleteQuery,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404), 409: conflict },
      },
    },
    async (request, reply) => {
      await statuses.delete(authOf(request), request.params.id, request.params.status_id, request.query.move_to);
      return reply.code(204).send(null);
    },
  );
};
