import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestContext,
  json,
  PASSWORD,
  registerCompany,
  type TestContext,
  unique,
} from '../../test/helpers.ts';
import { REFRESH_COOKIE, SESSION_COOKIE } from './routes.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const COOKIE_MODE = { 'x-auth-cookie': '1' };

const post = (url: string, payload: object, headers: Record<string, string> = {}, cookie?: string) =>
  ctx.app.inject({
    method: 'POST',
    url,
    payload: payload as Record<string, unknown>,
    headers,
    cookies: cookie === undefined ? {} : { [REFRESH_COOKIE]: cookie },
  });

const refreshCookie = (response: LightMyRequestResponse) =>
  response.cookies.find((cookie) => cookie.name === REFRESH_COOKIE);

async function cookieLogin(): Promise<{ access: string; cookie: string }> {
  const session = await registerCompany(ctx.app);
  const response = await post('/api/auth/login/', { username: session.user.username, password: PASSWORD }, COOKIE_MODE);
  expect(response.statusCode).toBe(200);
  const cookie = refreshCookie(response);
  if (cookie === undefined) throw new Error('no refresh cookie');
  return { access: json<{ access: string }>(response).access, cookie: cookie.value };
}

describe('refresh token in a cookie, for the web app', () => {
  it('is set only when asked for: API clients get the contract’s bodies and no cookie', async () => {
    const session = await registerCompany(ctx.app);
    const login = await post('/api/auth/login/', { username: session.user.username, password: PASSWORD });
    expect(login.headers['set-cookie']).toBeUndefined();
    const { refresh } = json<{ refresh: string }>(login);
    expect(refresh).not.toBe('');
    const refreshed = await post('/api/auth/token/refresh/', { refresh });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.headers['set-cookie']).toBeUndefined();
    expect(json<{ refresh: string }>(refreshed).refresh).not.toBe('');
  });

  it('comes httpOnly, SameSite=Strict, scoped to the auth endpoints, with the body’s copy withheld', async () => {
    const session = await registerCompany(ctx.app);
    const login = await post('/api/auth/login/', { username: session.user.username, password: PASSWORD }, COOKIE_MODE);
    expect(login.statusCode).toBe(200);
    const body = json<{ access: string; refresh: string }>(login);
    expect(Object.keys(body).sort()).toEqual(['access', 'refresh']);
    expect(body.refresh).toBe('');
    const cookie = refreshCookie(login);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/auth/' });
    expect(cookie?.secure).toBeFalsy();
    // Valid as long as the token it holds: seven days.
    const days = ((cookie?.expires?.getTime() ?? 0) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    const profile = await ctx.app.inject({ url: '/api/auth/profile/', headers: bearer(body.access) });
    expect(profile.statusCode).toBe(200);
  });

  it('is set by registration too, for a new company or an invitation', async () => {
    const username = unique('cookie');
    const response = await post(
      '/api/auth/register/',
      {
        username,
        email: `${username}@example.com`,
        password: PASSWORD,
        password_confirm: PASSWORD,
        company_name: unique('Company '),
      },
      COOKIE_MODE,
    );
    expect(response.statusCode).toBe(201);
    expect(json<{ refresh: string; user: { username: string } }>(response)).toMatchObject({
      refresh: '',
      user: { username },
    });
    expect(refreshCookie(response)?.value).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('refreshes from the cookie, rotating it; the spent one revokes the family and is cleared', async () => {
    const { cookie } = await cookieLogin();
    const first = await post('/api/auth/token/refresh/', {}, COOKIE_MODE, cookie);
    expect(first.statusCode).toBe(200);
    expect(json<{ refresh: string }>(first).refresh).toBe('');
    const rotated = refreshCookie(first)?.value;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookie);

    const reuse = await post('/api/auth/token/refresh/', {}, COOKIE_MODE, cookie);
    expect(reuse.statusCode).toBe(401);
    expect(refreshCookie(reuse)).toMatchObject({ value: '', path: '/api/auth/' });
    const afterTheft = await post('/api/auth/token/refresh/', {}, COOKIE_MODE, rotated);
    expect(afterTheft.statusCode).toBe(401);
  });

  it('is ignored without the header, and a missing one is the contract’s validation error', async () => {
    const { cookie } = await cookieLogin();
    const noHeader = await post('/api/auth/token/refresh/', {}, {}, cookie);
    expect(noHeader.statusCode).toBe(400);
    expect(json(noHeader)).toEqual({ refresh: ['This field is required.'] });
    const noCookie = await post('/api/auth/token/refresh/', {}, COOKIE_MODE);
    expect(noCookie.statusCode).toBe(400);
    expect(json(noCookie)).toEqual({ refresh: ['This field is required.'] });
  });

  it('prefers a refresh token in the body over the cookie', async () => {
    const { cookie } = await cookieLogin();
    const response = await post('/api/auth/token/refresh/', { refresh: 'not-a-token' }, COOKIE_MODE, cookie);
    expect(response.statusCode).toBe(401);
  });

  it('logs out from the cookie, which is then cleared and spent', async () => {
    const { cookie } = await cookieLogin();
    const logout = await post('/api/auth/logout/', {}, COOKIE_MODE, cookie);
    expect(logout.statusCode).toBe(204);
    expect(refreshCookie(logout)).toMatchObject({ value: '', path: '/api/auth/' });
    const after = await post('/api/auth/token/refresh/', {}, COOKIE_MODE, cookie);
    expect(after.statusCode).toBe(401);
  });

  it('comes with a cookie the page can read, saying there is a session, set and cleared with it', async () => {
    const { cookie } = await cookieLogin();
    const sessionCookie = (response: LightMyRequestResponse) =>
      response.cookies.find((each) => each.name === SESSION_COOKIE);
    const refreshed = await post('/api/auth/token/refresh/', {}, COOKIE_MODE, cookie);
    const marker = sessionCookie(refreshed);
    expect(marker).toMatchObject({ value: '1', sameSite: 'Strict', path: '/' });
    expect(marker?.httpOnly).toBeFalsy();
    expect(marker?.expires?.getTime()).toBe(refreshCookie(refreshed)?.expires?.getTime());
    // a refused refresh (the spent cookie again) and a logout clear it with the refresh cookie
    const refused = await post('/api/auth/token/refresh/', {}, COOKIE_MODE, cookie);
    expect(refused.statusCode).toBe(401);
    expect(sessionCookie(refused)).toMatchObject({ value: '', path: '/' });
    const { cookie: other } = await cookieLogin();
    const logout = await post('/api/auth/logout/', {}, COOKIE_MODE, other);
    expect(sessionCookie(logout)).toMatchObject({ value: '', path: '/' });
    // API clients get no cookie at all
    const session = await registerCompany(ctx.app);
    const plain = await post('/api/auth/login/', { username: session.user.username, password: PASSWORD });
    expect(plain.headers['set-cookie']).toBeUndefined();
  });
});
