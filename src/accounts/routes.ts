import cookie from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { authOf } from '../platform/auth.ts';
import { errorResponses, IdParams } from '../platform/http.ts';
import { PageQuery, pageOf, pageRequest } from '../platform/pagination.ts';
import * as s from './schemas.ts';
import type { AccountsService } from './service.ts';

export interface AccountsRoutesOptions {
  service: AccountsService;
  /** Throttle for the routes that take credentials, per client address. */
  authRateLimit: { max: number; timeWindow: number; hook: 'onRequest' };
}

const tags = ['auth'];

/**
 * The web app keeps its refresh token where scripts cannot read it: it sends this header and the
 * token travels in an httpOnly cookie instead of the body. API clients that do not send it get
 * exactly the contract's bodies. The custom header also means a cross-site form or script cannot
 * make the browser spend the cookie (it would need a CORS preflight, which nothing here allows).
 */
export const COOKIE_MODE_HEADER = 'x-auth-cookie';
export const REFRESH_COOKIE = 'tasks_refresh';
const REFRESH_COOKIE_PATH = '/api/auth/';
/**
 * Beside the refresh cookie, with its lifetime, one the page can read that holds nothing secret:
 * it tells the web app there is a session to resume, so a visitor without one causes no request
 * to token/refresh (and no 400 in the console) on every page load.
 */
export const SESSION_COOKIE = 'tasks_session';

const wantsCookie = (request: FastifyRequest) => request.headers[COOKIE_MODE_HEADER] === '1';

function setRefreshCookie(request: FastifyRequest, reply: FastifyReply, refresh: string) {
  const { exp } = decodeJwt(refresh);
  const options = {
    sameSite: 'strict',
    // Plain http on localhost has to work; behind TLS (or a proxy saying so) the cookie is https-only.
    secure: request.protocol === 'https',
    expires: exp === undefined ? undefined : new Date(exp * 1000),
  } as const;
  reply.setCookie(REFRESH_COOKIE, refresh, { ...options, httpOnly: true, path: REFRESH_COOKIE_PATH });
  reply.setCookie(SESSION_COOKIE, '1', { ...options, httpOnly: false, path: '/' });
}

function clearRefreshCookie(reply: FastifyReply) {
  reply.clearCookie(REFRESH_COOKIE, { path: REFRESH_COOKIE_PATH });
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/** In cookie mode the body's refresh token is withheld: the cookie is the only copy. */
function deliver<T extends { refresh: string }>(request: FastifyRequest, reply: FastifyReply, answer: T): T {
  if (!wantsCookie(request)) return answer;
  setRefreshCookie(request, reply, answer.refresh);
  return { ...answer, refresh: '' };
}

/** Refresh and logout in cookie mode: a body without `refresh` takes the cookie's. */
async function refreshFromCookie(request: FastifyRequest) {
  if (!wantsCookie(request)) return;
  const body = request.body;
  const stored = request.cookies[REFRESH_COOKIE];
  if (typeof body === 'object' && body !== null && !('refresh' in body) && stored !== undefined && stored !== '') {
    (body as { refresh?: string }).refresh = stored;
  }
}

export const accountsRoutes: FastifyPluginAsyncTypebox<AccountsRoutesOptions> = async (
  app,
  { service, authRateLimit },
) => {
  for (const schema of [
    s.Company,
    s.User,
    s.TokenPair,
    s.Invitation,
    s.CreatedInvitation,
    s.UserPage,
    s.InvitationPage,
    s.InvitationPreview,
  ]) {
    app.addSchema(schema);
  }
  const throttled = { public: true, rateLimit: authRateLimit };
  await app.register(cookie);

  app.post(
    '/api/auth/register/',
    {
      config: throttled,
      schema: {
        tags,
        operationId: 'register',
        description:
          'Answers the new user with an access and refresh token pair; with X-Auth-Cookie: 1 the refresh token is set as an httpOnly cookie instead.',
        summary: 'Create an account: a new company (its admin) or, with an invitation, a member of one',
        security: [],
        body: s.RegisterBody,
        response: { 201: s.RegisterResponse, ...errorResponses(400, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(deliver(request, reply, await service.register(request.body))),
  );

  app.post(
    '/api/auth/login/',
    {
      config: throttled,
      schema: {
        tags,
        operationId: 'login',
        description:
          'Answers an access and refresh token pair; with X-Auth-Cookie: 1 the refresh token is set as an httpOnly cookie instead.',
        summary: 'Log in with a username or an email address',
        security: [],
        body: s.LoginBody,
        response: { 200: Type.Ref(s.TokenPair), ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => deliver(request, reply, await service.login(request.body)),
  );

  app.post(
    '/api/auth/token/refresh/',
    {
      config: throttled,
      schema: {
        tags,
        operationId: 'refreshToken',
        description:
          'The refresh token comes in the body, or from the cookie with X-Auth-Cookie: 1; a spent token used again revokes the whole login.',
        summary: 'Exchange a refresh token for a new pair; the old one is spent',
        security: [],
        body: s.RefreshBody,
        response: { 200: Type.Ref(s.TokenPair), ...errorResponses(400, 401, 429) },
      },
      preValidation: refreshFromCookie,
      // A refused cookie is dead (spent, revoked or expired): the browser should stop sending it.
      onSend: async (request, reply) => {
        if (wantsCookie(request) && reply.statusCode === 401) clearRefreshCookie(reply);
      },
    },
    async (request, reply) => deliver(request, reply, await service.refresh(request.body.refresh)),
  );

  app.post(
    '/api/auth/logout/',
    {
      config: { public: true },
      schema: {
        tags,
        operationId: 'logout',
        description:
          'The refresh token comes in the body, or from the cookie with X-Auth-Cookie: 1, which is then cleared.',
        summary: 'Sign out: revokes the refresh token and every token rotated from the same login',
        security: [],
        body: s.RefreshBody,
        response: { 204: Type.Null(), ...errorResponses(400, 401) },
      },
      preValidation: refreshFromCookie,
      // Signed out in the browser whatever the token's fate: a dead one is no use to keep.
      onSend: async (request, reply) => {
        if (wantsCookie(request)) clearRefreshCookie(reply);
      },
    },
    async (request, reply) => {
      await service.logout(request.body.refresh);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/auth/profile/',
    {
      schema: {
        tags,
        operationId: 'getProfile',
        description: 'The signed-in user, with their role and company.',
        summary: 'The caller',
        response: { 200: Type.Ref(s.User), ...errorResponses(401) },
      },
    },
    async (request) => service.profile(authOf(request)),
  );

  app.patch(
    '/api/auth/profile/',
    {
      schema: {
        tags,
        operationId: 'updateProfile',
        description: 'Fields left out keep their value; an email must not be another user’s.',
        summary: 'Change the caller’s name or email',
        body: s.ProfilePatch,
        response: { 200: Type.Ref(s.User), ...errorResponses(400, 401) },
      },
    },
    async (request) => service.updateProfile(authOf(request), request.body),
  );

  app.get(
    '/api/auth/company-users/',
    {
      schema: {
        tags,
        operationId: 'listCompanyUsers',
        description: 'Paginated, in the order their accounts were made.',
        summary: 'The active users of the caller’s company',
        querystring: PageQuery,
        response: { 200: Type.Ref(s.UserPage), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, users } = await service.companyUsers(authOf(request), page);
      return pageOf(request, page, count, users);
    },
  );

  app.post(
    '/api/auth/invitations/',
    {
      schema: {
        tags,
        operationId: 'createInvitation',
        description:
          'Answers the invitation with its token, the only time the token is shown; the link built from it signs up into the company.',
        summary: 'Invite someone to the company (admins only)',
        body: s.InvitationBody,
        response: { 201: Type.Ref(s.CreatedInvitation), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.createInvitation(authOf(request), request.body)),
  );

  app.get(
    '/api/auth/invitations/',
    {
      schema: {
        tags,
        operationId: 'listInvitations',
        description: 'Invitations neither used, revoked nor expired; their tokens are never shown again.',
        summary: 'Pending invitations of the company (admins only)',
        querystring: PageQuery,
        response: { 200: Type.Ref(s.InvitationPage), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { count, invitations } = await service.pendingInvitations(authOf(request), page);
      return pageOf(request, page, count, invitations);
    },
  );

  // The token goes in the query string, not the path: logged URLs have their `token` redacted.
  app.get(
    '/api/auth/invitations/preview/',
    {
      config: throttled,
      schema: {
        tags,
        operationId: 'previewInvitation',
        description: 'Public: the token is the credential. Used, expired, revoked and unknown tokens are all 404.',
        summary: 'The company and email address an invitation is for, by its token',
        security: [],
        querystring: s.InvitationTokenQuery,
        response: { 200: Type.Ref(s.InvitationPreview), ...errorResponses(400, 404, 429) },
      },
    },
    async (request) => service.invitationByToken(request.query.token),
  );

  app.delete(
    '/api/auth/invitations/:id/',
    {
      schema: {
        tags,
        operationId: 'revokeInvitation',
        description: 'Its link stops working at once.',
        summary: 'Withdraw a pending invitation (admins only)',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await service.revokeInvitation(authOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/api/auth/company-users/:id/',
    {
      schema: {
        tags,
        operationId: 'changeUserRole',
        description: 'The company keeps at least one admin: the last one cannot become a member.',
        summary: 'Change a colleague’s role (admins only)',
        params: IdParams,
        body: s.RoleBody,
        response: { 200: Type.Ref(s.User), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => service.changeRole(authOf(request), request.params.id, request.body.role),
  );

  app.delete(
    '/api/auth/company-users/:id/',
    {
      schema: {
        tags,
        operationId: 'removeCompanyUser',
        description: 'Their tasks stay; nobody can remove themselves.',
        summary: 'Remove someone from the company (admins only): their sessions and live connections end',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await service.removeUser(authOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
