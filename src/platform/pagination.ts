import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Where the links in answers point: PUBLIC_URL's origin, or the request's (checked) Host. */
    linkOrigin: string;
  }
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/**
 * DRF reads page and page_size leniently (a bad page is a 404, a bad page_size the default), so
 * they are strings here and parsed below rather than rejected by the validator.
 */
export const PageQuery = Type.Object({
  page: Type.Optional(Type.String({ description: 'Page number, from 1.' })),
  page_size: Type.Optional(
    Type.String({ description: `Items per page: default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}.` }),
  ),
});
export type PageQuery = Static<typeof PageQuery>;

export const Page = <T extends TSchema>(item: T, name: string) =>
  Type.Object(
    {
      count: Type.Integer(),
      next: Type.Union([Type.String({ format: 'uri' }), Type.Null()]),
      previous: Type.Union([Type.String({ format: 'uri' }), Type.Null()]),
      results: Type.Array(item),
    },
    { $id: name, title: name },
  );

export interface PageRequest {
  page: number;
  size: number;
  offset: number;
}

const invalidPage = () => new HttpError(404, { detail: 'Invalid page.' });

export function pageRequest(query: PageQuery): PageRequest {
  const rawPage = query.page ?? '1';
  const page = /^\d{1,9}$/.test(rawPage) ? Number(rawPage) : 0;
  if (!(page >= 1)) throw invalidPage();
  let size = DEFAULT_PAGE_SIZE;
  if (query.page_size !== undefined && /^\d{1,9}$/.test(query.page_size) && Number(query.page_size) > 0) {
    size = Math.min(Number(query.page_size), MAX_PAGE_SIZE);
  }
  return { page, size, offset: (page - 1) * size };
}

function pageUrl(request: FastifyRequest, page: number): string {
  const url = new URL(request.url, request.linkOrigin);
  if (page === 1) url.searchParams.delete('page');
  else url.searchParams.set('page', String(page));
  return url.toString();
}

/** The DRF page envelope; a page past the end (other than an empty first page) is a 404. */
export function pageOf<T>(request: FastifyRequest, page: PageRequest, count: number, results: T[]) {
  if (page.page > 1 && page.offset >= count) throw invalidPage();
  return {
    count,
    next: page.offset + results.length < count ? pageUrl(request, page.page + 1) : null,
    previous: page.page > 1 ? pageUrl(request, page.page - 1) : null,
    results,
  };
}
