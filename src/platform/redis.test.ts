import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, json, type TestContext } from '../../test/helpers.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const login = (ctx: TestContext, ip: string) =>
  ctx.app.inject({
    method: 'POST',
    url: '/api/auth/login/',
    remoteAddress: ip,
    payload: { username: 'x', password: 'y' },
  });
const randomIp = () =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

describe('with REDIS_URL', () => {
  let one: TestContext;
  let two: TestContext;
  beforeAll(async () => {
    one = await createTestContext({ redisUrl: REDIS_URL, authRateLimit: 4 });
    two = await createTestContext({ redisUrl: REDIS_URL, authRateLimit: 4 });
  });
  afterAll(async () => {
    await one.close();
    await two.close();
  });

  it('shares the auth throttle between processes', async () => {
    const ip = randomIp();
    const codes = [];
    for (const ctx of [one, two, one, two, one]) codes.push((await login(ctx, ip)).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 429]);
  });

  it('reports Redis in readiness', async () => {
    const ready = await one.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(json(ready)).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
  });
});

describe('with REDIS_URL pointing at nothing', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ redisUrl: 'redis://127.0.0.1:1', authRateLimit: 2 });
  });
  afterAll(() => ctx.close());

  it('is not ready, naming Redis, yet still answers the API', async () => {
    const ready = await ctx.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(json(ready)).toEqual({ status: 'unavailable', checks: { database: 'ok', redis: 'unavailable' } });
    // throttling skips rather than failing the request
    expect((await login(ctx, randomIp())).statusCode).toBe(401);
  });
});
