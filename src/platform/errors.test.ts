import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, json, registerCompany, type TestContext } from '../../test/helpers.ts';

/** Framework-level failures answer in DRF's shape too, never with a 5xx. */
describe('errors', () => {
  let ctx: TestContext;
  let access: string;
  beforeAll(async () => {
    ctx = await createTestContext();
    access = (await registerCompany(ctx.app)).access;
  });
  afterAll(() => ctx.close());

  it('answers malformed JSON with 400 and a detail', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/login/',
      headers: { 'content-type': 'application/json' },
      payload: '{"username": "a", ',
    });
    expect(response.statusCode).toBe(400);
    expect(json<{ detail: string }>(response).detail).toMatch(/^JSON parse error/);
  });

  it('answers a body that is JSON but not an object with a non-field error', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/login/',
      headers: { 'content-type': 'application/json' },
      payload: '[1, 2]',
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
  });

  it('answers a non-JSON content type with 415', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/login/',
      headers: { 'content-type': 'text/plain' },
      payload: 'username=a',
    });
    expect(response.statusCode).toBe(415);
    expect(json(response)).toEqual({ detail: 'Unsupported media type "text/plain" in request.' });
  });

  it('answers a body over 1 MB with 413', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/login/',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ username: 'a'.repeat(1024 * 1024), password: 'x' }),
    });
    expect(response.statusCode).toBe(413);
    expect(json(response)).toHaveProperty('detail');
  });

  it('answers an empty JSON body with 400', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/login/',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toHaveProperty('detail');
  });

  it('answers an unknown route with 404, authenticated or not', async () => {
    for (const headers of [{}, bearer(access)]) {
      const response = await ctx.app.inject({ url: '/api/nothing-here/', headers });
      expect(response.statusCode).toBe(404);
      expect(json(response)).toEqual({ detail: 'Not found.' });
    }
  });

  it('answers a wrong method with 405 and Allow, with or without the trailing slash', async () => {
    for (const url of ['/api/auth/login/', '/api/auth/login']) {
      const response = await ctx.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(405);
      expect(json(response)).toEqual({ detail: 'Method "GET" not allowed.' });
      expect(response.headers.allow).toContain('POST');
    }
    const del = await ctx.app.inject({ method: 'DELETE', url: '/api/auth/profile/', headers: bearer(access) });
    expect(del.statusCode).toBe(405);
  });

  it('answers OPTIONS with the methods a path takes, as DRF does', async () => {
    const response = await ctx.app.inject({ method: 'OPTIONS', url: '/api/tasks/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers.allow).toBe('GET, POST, OPTIONS');
    expect(json(response)).toEqual({ renders: ['application/json'], parses: ['application/json'] });
    expect((await ctx.app.inject({ method: 'OPTIONS', url: '/api/nothing-here/' })).statusCode).toBe(404);
  });

  it('serves paths without their trailing slash directly, with no redirect', async () => {
    const response = await ctx.app.inject({ url: '/api/auth/profile', headers: bearer(access) });
    expect(response.statusCode).toBe(200);
  });

  it('answers odd input with 4xx, never 5xx', async () => {
    const odd = [
      { method: 'POST' as const, url: '/api/auth/login/', payload: { username: 'a'.repeat(10_000), password: 'x' } },
      { method: 'POST' as const, url: '/api/auth/login/', payload: { username: null, password: 12 } },
      { method: 'POST' as const, url: '/api/auth/register/', payload: { username: '\u0000', email: '\u0000@x' } },
      { method: 'POST' as const, url: '/api/auth/token/refresh/', payload: { refresh: 'a.b.c' } },
      { method: 'PATCH' as const, url: '/api/auth/profile/', payload: { email: 'a'.repeat(300) } },
      { method: 'DELETE' as const, url: '/api/auth/invitations/99999999999999999999/' },
      { method: 'DELETE' as const, url: '/api/auth/invitations/-1/' },
      { method: 'GET' as const, url: '/api/auth/company-users/?page=99999999999999999999&page_size=-5' },
    ];
    for (const request of odd) {
      const response = await ctx.app.inject({ ...request, headers: bearer(access) });
      expect(response.statusCode, `${request.method} ${request.url}`).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, `${request.method} ${request.url}`).toBeLessThan(500);
      expect(response.body).not.toMatch(/at .*\.ts:\d+|select |insert /i);
    }
  });

  it('tags each answer with a request id, keeping a sane one the client sent', async () => {
    const given = await ctx.app.inject({ url: '/healthz', headers: { 'x-request-id': 'client-id-123' } });
    expect(given.headers['x-request-id']).toBe('client-id-123');
    const odd = await ctx.app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id\nwith newline' } });
    expect(odd.headers['x-request-id']).not.toContain('\n');
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('throttling', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ authRateLimit: 3 });
  });
  afterAll(() => ctx.close());

  it('limits login per client address, then answers 429 with Retry-After', async () => {
    const attempt = (ip: string) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/auth/login/',
        remoteAddress: ip,
        payload: { username: 'x', password: 'y' },
      });
    for (let i = 0; i < 3; i++) expect((await attempt('10.0.0.1')).statusCode).toBe(401);
    const throttled = await attempt('10.0.0.1');
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(json<{ detail: string }>(throttled).detail).toMatch(/^Request was throttled/);
    // another address is not affected
    expect((await attempt('10.0.0.2')).statusCode).toBe(401);
  });

  it('limits register and token refresh too', async () => {
    for (const url of ['/api/auth/register/', '/api/auth/token/refresh/']) {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        codes.push((await ctx.app.inject({ method: 'POST', url, remoteAddress: '10.0.0.3', payload: {} })).statusCode);
      }
      expect(codes).toEqual([400, 400, 400, 429]);
    }
  });
});

describe('the per-user limit on the whole API', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ rateLimit: 3 });
  });
  afterAll(() => ctx.close());

  it('answers 429 with Retry-After and RateLimit headers past RATE_LIMIT a minute, per user', async () => {
    const one = await registerCompany(ctx.app);
    const two = await registerCompany(ctx.app);
    const profile = (access: string) => ctx.app.inject({ url: '/api/auth/profile/', headers: bearer(access) });
    const first = await profile(one.access);
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-limit']).toBe('3');
    expect(first.headers['ratelimit-remaining']).toBe('2');
    await profile(one.access);
    await profile(one.access);
    const throttled = await profile(one.access);
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(json<{ detail: string }>(throttled).detail).toMatch(/^Request was throttled/);
    expect((await profile(two.access)).statusCode).toBe(200);
    // operations endpoints are not the API: never throttled
    for (let i = 0; i < 5; i++) expect((await ctx.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('security headers', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it('sets helmet’s headers on every answer', async () => {
    const response = await ctx.app.inject({ url: '/api/nothing/' });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.headers['strict-transport-security']).toBeDefined();
  });
});

describe('CORS', () => {
  it('answers browsers of the origins in CORS_ORIGINS only', async () => {
    const ctx = await createTestContext({ corsOrigins: ['https://app.example.com'] });
    try {
      const allowed = await ctx.app.inject({
        method: 'OPTIONS',
        url: '/api/auth/login/',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(allowed.statusCode).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
      const other = await ctx.app.inject({ url: '/healthz', headers: { origin: 'https://evil.example' } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });
});
