import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, createTestContext, registerCompany, type TestContext } from '../../test/helpers.ts';

describe('metrics', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ metricsToken: 'scrape-secret' });
  });
  afterAll(() => ctx.close());

  it('needs METRICS_TOKEN when it is set', async () => {
    expect((await ctx.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await ctx.app.inject({ url: '/metrics', headers: bearer('wrong') })).statusCode).toBe(401);
  });

  it('counts requests by route pattern and status, and reports sockets and the pool', async () => {
    const session = await registerCompany(ctx.app);
    await ctx.app.inject({ url: '/api/auth/profile/', headers: bearer(session.access) });
    await ctx.app.inject({ url: '/api/auth/invitations/12345/', method: 'DELETE', headers: bearer(session.access) });
    const response = await ctx.app.inject({ url: '/metrics', headers: bearer('scrape-secret') });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/api\/auth\/profile\/",status_code="200"\} 1/,
    );
    // one series per route pattern, not per id
    expect(text).toContain('route="/api/auth/invitations/:id/",status_code="404"');
    expect(text).toMatch(/websocket_connections 0/);
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toMatch(/db_pool_connections\{state="total"\} \d+/);
  });

  it('shows the jobs of each queue by state, and how late the due ones are', async () => {
    const admin = await registerCompany(ctx.app);
    const member = await addMember(ctx.app, admin);
    // an email due in NOTIFICATION_DELAY_SECONDS, and no worker here to send it
    await ctx.app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: bearer(admin.access),
      payload: { title: 'Queued', assigned_to: member.user.id },
    });
    const text = (await ctx.app.inject({ url: '/metrics', headers: bearer('scrape-secret') })).body;
    expect(text).toMatch(/jobs\{queue="notification-send",state="created"\} 1/);
    expect(text).toMatch(/jobs\{queue="notification-send",state="failed"\} 0/);
    expect(text).toMatch(/jobs_queue_lag_seconds\{queue="notification-send"\} 0/);
    expect(text).toMatch(/jobs_queue_lag_seconds\{queue="notification-digest"\} 0/);
  });
});
