import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestContext,
  json,
  registerCompany,
  requestsTo,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { sleep } from '../../test/timing.ts';

/** What a client that lost its connection asks for: what changed and what was deleted since. */
describe('catching up after a reconnect', () => {
  let ctx: TestContext;
  let a: Session;
  let b: Session;
  beforeAll(async () => {
    ctx = await createTestContext();
    a = await registerCompany(ctx.app);
    b = await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  const { call, createTask } = requestsTo(() => ctx.app);
  const create = (session: Session, title: string) => createTask(session, { title });

  it('lists the ids deleted since a moment, and the tasks changed since it', async () => {
    const kept = await create(a, 'Kept');
    const early = await create(a, 'Deleted before');
    expect((await call(a, 'DELETE', `/api/tasks/${early.id}/`)).statusCode).toBe(204);
    await sleep(20);
    const since = new Date().toISOString();
    const late = await create(a, 'Deleted after');
    expect((await call(a, 'DELETE', `/api/tasks/${late.id}/`)).statusCode).toBe(204);
    const changed = json<{ updated_at: string }>(await call(a, 'PATCH', `/api/tasks/${kept.id}/`, { status: 'done' }));
    const foreign = await create(b, 'Other company');
    expect((await call(b, 'DELETE', `/api/tasks/${foreign.id}/`)).statusCode).toBe(204);

    const deleted = await call(a, 'GET', `/api/tasks/deleted/?since=${encodeURIComponent(since)}`);
    expect(deleted.statusCode).toBe(200);
    expect(json(deleted)).toEqual({
      count: 1,
      next: null,
      previous: null,
      results: [{ id: late.id, deleted_at: expect.any(String) }],
    });
    const updated = json<{ results: Array<{ id: number; updated_at: string }> }>(
      await call(a, 'GET', `/api/tasks/?updated_after=${encodeURIComponent(since)}`),
    );
    expect(updated.results.map((t) => t.id)).toEqual([kept.id]);
    expect(updated.results[0]?.updated_at).toBe(changed.updated_at);
  });

  it('needs a valid since', async () => {
    for (const query of ['', '?since=', '?since=yesterday', '?since=2024-02-31']) {
      const response = await call(a, 'GET', `/api/tasks/deleted/${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(json(response)).toHaveProperty('since');
    }
    expect((await call(a, 'GET', '/api/tasks/deleted/?since=2024-01-01')).statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/api/tasks/deleted/?since=2024-01-01' })).statusCode).toBe(401);
  });
});
