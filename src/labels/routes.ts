import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authOf } from '../platform/auth.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import * as s from './schemas.ts';
import type { LabelsService } from './service.ts';

export interface LabelsRoutesOptions {
  service: LabelsService;
}

const tags = ['labels'];

export const labelsRoutes: FastifyPluginAsyncTypebox<LabelsRoutesOptions> = async (app, { service }) => {
  app.addSchema(s.Label);
  const labelRef = Type.Ref(s.Label);

  app.get(
    '/api/labels/',
    {
      schema: {
        tags,
        operationId: 'listLabels',
        summary: 'The company’s labels, by name',
        description: 'Not paginated. Everyone in the company reads them, guests included.',
        response: { 200: Type.Array(labelRef), ...errorResponses(401) },
      },
    },
    async (request) => service.list(authOf(request)),
  );

  app.post(
    '/api/labels/',
    {
      schema: {
        tags,
        operationId: 'createLabel',
        summary: 'Create a label (admins and members)',
        description: 'Names are unique in the company in any letter case; without a colour the server picks one.',
        body: s.LabelBody,
        response: { 201: labelRef, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(authOf(request), request.body)),
  );

  app.patch(
    '/api/labels/:id/',
    {
      schema: {
        tags,
        operationId: 'updateLabel',
        summary: 'Rename or recolour a label (admins and members)',
        description: 'Guests: 403.',
        params: IdParams,
        body: s.LabelPatch,
        response: { 200: labelRef, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => service.update(authOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/labels/:id/',
    {
      schema: {
        tags,
        operationId: 'deleteLabel',
        summary: 'Delete a label, removing it from every task (admins and members)',
        description: 'Guests: 403.',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await service.delete(authOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
