import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestContext,
  json,
  PASSWORD,
  registerCompany,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';

/** What the Django/DRF service answered, kept where Fastify's defaults answer otherwise. */
describe('contract fidelity', () => {
  let ctx: TestContext;
  let admin: Session;
  let taskId: number;
  beforeAll(async () => {
    ctx = await createTestContext();
    admin = await registerCompany(ctx.app);
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: bearer(admin.access),
      payload: { title: 'first' },
    });
    taskId = json<{ id: number }>(created).id;
    for (let i = 0; i < 2; i++) {
      await ctx.app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers: bearer(admin.access),
        payload: { title: `more ${i}`, assigned_to: admin.user.id },
      });
    }
  });
  afterAll(() => ctx.close());

  it('takes body fields only in the JSON type their schema names', async () => {
    const cases: [string, string, Record<string, unknown>, Record<string, string[]>][] = [
      ['POST', '/api/tasks/', { title: ['a'] }, { title: ['Not a valid string.'] }],
      ['POST', '/api/tasks/', { title: 7 }, { title: ['Not a valid string.'] }],
      [
        'POST',
        '/api/tasks/',
        { title: 'ok', assigned_to: String(admin.user.id) },
        { assigned_to: ['A valid integer is required.'] },
      ],
      [
        'POST',
        '/api/tasks/',
        { title: 'ok', assigned_to: [admin.user.id] },
        { assigned_to: ['A valid integer is required.'] },
      ],
      [
        'PATCH',
        '/api/notifications/preferences/',
        { daily_digest: 'true' },
        { daily_digest: ['Must be a valid boolean.'] },
      ],
    ];
    for (const [method, url, payload, errors] of cases) {
      const response = await ctx.app.inject({
        method: method as 'POST',
        url,
        headers: bearer(admin.access),
        payload,
      });
      expect([url, response.statusCode, json(response)]).toEqual([url, 400, errors]);
    }
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/login/',
      payload: { username: [admin.user.username], password: [PASSWORD] },
    });
    expect([login.statusCode, json(login)]).toEqual([
      400,
      { username: ['Not a valid string.'], password: ['Not a valid string.'] },
    ]);
  });

  it('still reads numbers from query strings', async () => {
    const response = await ctx.app.inject({
      url: `/api/tasks/?assigned_to=${admin.user.id}&page_size=1`,
      headers: bearer(admin.access),
    });
    expect(response.statusCode).toBe(200);
    expect(json<{ count: number }>(response).count).toBe(2);
  });

  it('reads an id in a path as [0-9]+ only, anything else being a 404', async () => {
    for (const id of [`${taskId}.0`, `+${taskId}`, `${taskId}e0`, ` ${taskId}`, `0x${taskId.toString(16)}`]) {
      const response = await ctx.app.inject({
        url: `/api/tasks/${encodeURIComponent(id)}/`,
        headers: bearer(admin.access),
      });
      expect([id, response.statusCode]).toEqual([id, 404]);
    }
    const plain = await ctx.app.inject({ url: `/api/tasks/${taskId}/`, headers: bearer(admin.access) });
    expect(plain.statusCode).toBe(200);
    const zeros = await ctx.app.inject({ url: `/api/tasks/00${taskId}/`, headers: bearer(admin.access) });
    expect(zeros.statusCode).toBe(200);
  });

  it('answers a method an action route does not take with 405 and Allow', async () => {
    for (const action of ['my_tasks', 'statistics', 'external-tasks', 'deleted']) {
      for (const method of ['DELETE', 'PUT', 'PATCH', 'POST'] as const) {
        const response = await ctx.app.inject({
          method,
          url: `/api/tasks/${action}/`,
          headers: bearer(admin.access),
          payload: {},
        });
        expect([action, method, response.statusCode, response.headers.allow, json(response)]).toEqual([
          action,
          method,
          405,
          'GET, OPTIONS',
          { detail: `Method "${method}" not allowed.` },
        ]);
      }
    }
    // An id that is no number names no resource, whatever the method.
    const missing = await ctx.app.inject({ method: 'POST', url: '/api/tasks/abc/', headers: bearer(admin.access) });
    expect(missing.statusCode).toBe(404);
  });

  it('refuses a Host that is no host[:port] with 400, and builds links from a valid one', async () => {
    for (const host of ['"quoted"', 'a b', 'exa<mple>.com', 'host:99999', 'host:port']) {
      const response = await ctx.app.inject({
        url: '/api/tasks/my_tasks/?page_size=1',
        headers: { ...bearer(admin.access), host },
      });
      expect([host, response.statusCode, json(response)]).toEqual([host, 400, { detail: 'Invalid Host header.' }]);
    }
    const response = await ctx.app.inject({
      url: '/api/tasks/my_tasks/?page_size=1',
      headers: { ...bearer(admin.access), host: 'tasks.example:8443' },
    });
    expect(response.statusCode).toBe(200);
    expect(json<{ next: string }>(response).next).toBe(
      'http://tasks.example:8443/api/tasks/my_tasks/?page_size=1&page=2',
    );
  });
});

describe('links with PUBLIC_URL set', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ linkOrigin: 'https://tasks.example.com' });
  });
  afterAll(() => ctx.close());

  it('builds next and previous from PUBLIC_URL, whatever the Host', async () => {
    const admin = await registerCompany(ctx.app);
    for (let i = 0; i < 3; i++) {
      await ctx.app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers: bearer(admin.access),
        payload: { title: `t${i}` },
      });
    }
    const response = await ctx.app.inject({
      url: '/api/tasks/?page_size=1&page=2',
      headers: { ...bearer(admin.access), host: 'internal-balancer:8000' },
    });
    expect(json(response)).toMatchObject({
      next: 'https://tasks.example.com/api/tasks/?page_size=1&page=3',
      previous: 'https://tasks.example.com/api/tasks/?page_size=1',
    });
  });
});
