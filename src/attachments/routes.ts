import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { type Auth, authOf, bearerToken, notAuthenticated, type TokenService } from '../platform/auth.ts';
import { HttpError } from '../platform/errors.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import { contentDisposition, servedType } from './files.ts';
import * as s from './schemas.ts';
import { type AttachmentsService, badUpload } from './service.ts';
import type { DownloadSigner } from './signing.ts';
import type { ByteRange } from './storage/index.ts';

export interface AttachmentsRoutesOptions {
  service: AttachmentsService;
  tokens: TokenService;
  signer: DownloadSigner;
  maxBytes: number;
}

const tags = ['attachments'];

/**
 * The one range of a `Range: bytes=…` header that can be served: undefined for the whole file
 * (no header, or one this server does not split, such as several ranges), 'unsatisfiable' for a
 * range past the end.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

export const attachmentsRoutes: FastifyPluginAsyncTypebox<AttachmentsRoutesOptions> = async (
  app,
  { service, tokens, signer, maxBytes },
) => {
  // Only in this plugin: every other route keeps answering multipart bodies with a 415. The file
  // may run one byte past the limit, so that the service's meter, not busboy's silent truncation,
  // is what notices it.
  await app.register(multipart, {
    limits: { fileSize: maxBytes + 1, files: 1, fields: 10, parts: 11, headerPairs: 100 },
    throwFileSizeLimit: false,
  });
  app.addSchema(s.Attachment);
  const attachmentRef = Type.Ref(s.Attachment);

  app.get(
    '/api/tasks/:id/attachments/',
    {
      schema: {
        tags,
        operationId: 'listAttachments',
        summary: 'A task’s attachments, newest first',
        description: 'Not paginated.',
        params: IdParams,
        response: { 200: Type.Array(attachmentRef), ...errorResponses(401, 404) },
      },
    },
    async (request) => service.list(authOf(request), request.params.id),
  );

  app.post(
    '/api/tasks/:id/attachments/',
    {
      schema: {
        tags,
        operationId: 'uploadAttachment',
        summary: 'Attach a file to a task (anyone who writes in its project)',
        description:
          '`multipart/form-data` with one file part named `file`, at most ATTACHMENT_MAX_MB (413 past it, or past the ' +
          'company’s STORAGE_QUOTA_MB); an empty or missing file is a 400 on `file`. The content type is detected from ' +
          'the bytes. An archived project: 409.',
        params: IdParams,
        response: { 201: attachmentRef, ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new HttpError(415, { detail: 'Unsupported media type: send the file as multipart/form-data.' });
      }
      const length = Number(request.headers['content-length']);
      const attachment = await service.upload(
        authOf(request),
        request.params.id,
        Number.isSafeInteger(length) ? length : undefined,
        async () => {
          const part = await request.file().catch((error: unknown) => {
            throw badUpload(error);
          });
          if (part === undefined) return undefined;
          if (part.fieldname !== 'file') {
            part.file.resume();
            throw new HttpError(400, { file: [`Send the file in a part named "file", not "${part.fieldname}".`] });
          }
          return { filename: part.filename, stream: part.file };
        },
      );
      return reply.code(201).send(attachment);
    },
  );

  app.get(
    '/api/attachments/:id/',
    {
      schema: {
        tags,
        operationId: 'getAttachment',
        summary: 'One attachment',
        description:
          'With a fresh download_url (signed for 10 minutes). An attachment of a task the caller does not see: 404.',
        params: IdParams,
        response: { 200: attachmentRef, ...errorResponses(401, 404) },
      },
    },
    async (request) => service.get(authOf(request), request.params.id),
  );

  app.delete(
    '/api/attachments/:id/',
    {
      schema: {
        tags,
        operationId: 'deleteAttachment',
        summary: 'Delete an attachment (its uploader, company admins, the project’s managers)',
        description: 'Its bytes are removed once the deletion has committed. An archived project: 409.',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await service.delete(authOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  /**
   * Public as far as the authentication hook goes: a valid signed link is enough by itself, and
   * anything else needs the Authorization header like any endpoint. An expired link opened from a
   * page that still holds a session thus keeps working, and a link altered to point elsewhere only
   * ever reaches what the header's user may see.
   */
  const downloader = async (request: FastifyRequest<{ Params: { id: number }; Querystring: s.DownloadQuery }>) => {
    const { c, e, s: signature } = request.query;
    const linked = c !== undefined || e !== undefined || signature !== undefined;
    if (linked) {
      const signed = signer.verify(request.params.id, request.query);
      if (signed !== undefined) return signed.companyId;
    }
    const token = bearerToken(request);
    if (token === undefined)
      throw linked ? notAuthenticated('This download link is invalid or has expired.') : notAuthenticated();
    const auth: Auth = await tokens.verify(token, 'access');
    return auth;
  };

  app.get(
    '/api/attachments/:id/download/',
    {
      config: { public: true },
      schema: {
        tags,
        operationId: 'downloadAttachment',
        summary: 'The attachment’s bytes',
        description:
          'With the signed parameters of `download_url` (valid 10 minutes) no Authorization header is needed. ' +
          'Without them, or with a tampered or expired link, the Authorization header as everywhere (401 without ' +
          'it). Always ' +
          '`Content-Disposition: attachment`; byte ranges (206, 416); the ETag is the SHA-256. HTML, SVG and XML are ' +
          'sent as application/octet-stream.',
        params: IdParams,
        querystring: s.DownloadQuery,
        response: {
          200: Type.Unsafe<Readable>({ type: 'string', format: 'binary', description: 'The bytes.' }),
          206: Type.Unsafe<Readable>({ type: 'string', format: 'binary', description: 'The requested range.' }),
          304: Type.Null({ description: 'Unchanged since the ETag given in If-None-Match.' }),
          416: Type.Null({ description: 'The range is past the end; Content-Range says the size.' }),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const scope = await downloader(request);
      const { attachment, open } = await service.download(scope, request.params.id);
      const etag = `"${attachment.sha256}"`;
      reply.headers({
        etag,
        'accept-ranges': 'bytes',
        'cache-control': 'private, no-cache',
        'content-disposition': contentDisposition(attachment.filename),
        'x-content-type-options': 'nosniff',
        // Should a browser render it anyway, it runs nothing and reaches nothing.
        'content-security-policy': "default-src 'none'; sandbox",
      });
      if (request.headers['if-none-match'] === etag) return reply.code(304).send(null);
      const size = attachment.size;
      const range = parseRange(request.headers.range, size);
      if (range === 'unsatisfiable') {
        return reply.code(416).header('content-range', `bytes */${size}`).send(null);
      }
      reply.type(servedType(attachment.contentType));
      if (range === undefined) {
        return reply
          .code(200)
          .header('content-length', size)
          .send(await open());
      }
      return reply
        .code(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
        .header('content-length', range.end - range.start + 1)
        .send(await open(range));
    },
  );
};
