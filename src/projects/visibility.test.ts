import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createTestContext,
  json,
  registerCompany,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';

interface Page<T> {
  count: number;
  results: T[];
}

/**
 * What is kept about a task beside the list (its history, its emails, its deletion, the caller's
 * own emails, my_tasks, external-tasks, statistics) follows who sees the task's project: a company
 * member outside a private project sees none of it, and one removed from it stops seeing it.
 */
describe('what is kept about a task follows who sees its project', () => {
  let ctx: TestContext;
  let owner: Session;
  let inside: Session;
  let outside: Session;
  let projectId: number;
  let kept: number;
  let deleted: number;
  const since = new Date(Date.now() - 60_000).toISOString();
  const call = (session: Session, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(session.access), payload });
  const ids = async (session: Session, url: string) =>
    json<Page<{ id: number }>>(await call(session, 'GET', url)).results.map((r) => r.id);
  const deletedIds = async (session: Session) =>
    json<Page<{ id: number }>>(
      await call(session, 'GET', `/api/tasks/deleted/?since=${encodeURIComponent(since)}`),
    ).results.map((r) => r.id);
  const emailsAbout = async (session: Session) =>
    json<Page<{ task: number | null }>>(await call(session, 'GET', '/api/notifications/')).results.map((n) => n.task);
  const external = async (session: Session) =>
    json<{ results: Array<{ id: number; source: string }> }>(
      await call(session, 'GET', '/api/tasks/external-tasks/'),
    ).results.flatMap((t) => (t.source === 'local' ? [t.id] : []));
  const assignees = async (session: Session) =>
    json<{ by_assignee: Array<{ user_id: number }> }>(
      await call(session, 'GET', '/api/tasks/statistics/'),
    ).by_assignee.map((a) => a.user_id);

  beforeAll(async () => {
    // The feed fails at once: only the local part matters here.
    ctx = await createTestContext({ externalTasksUrl: 'http://127.0.0.1:9/', externalTasksTimeoutMs: 200 });
    owner = await registerCompany(ctx.app);
    inside = await addMember(ctx.app, owner);
    outside = await addMember(ctx.app, owner);
    projectId = json<{ id: number }>(
      await call(owner, 'POST', '/api/projects/', { name: 'Secret', key: 'SEC', is_private: true }),
    ).id;
    await call(owner, 'PUT', `/api/projects/${projectId}/members/${inside.user.id}/`, { role: 'member' });
    const create = async (title: string) =>
      json<{ id: number }>(
        await call(owner, 'POST', '/api/tasks/', { title, project: projectId, assigned_to: inside.user.id }),
      ).id;
    kept = await create('kept secret');
    deleted = await create('deleted secret');
    expect((await call(owner, 'DELETE', `/api/tasks/${deleted}/`)).statusCode).toBe(204);
  });
  afterAll(() => ctx.close());

  it('shows a project member all of it, and a company member outside the project none of it', async () => {
    expect((await call(inside, 'GET', `/api/tasks/${kept}/history/`)).statusCode).toBe(200);
    expect((await call(inside, 'GET', `/api/tasks/${kept}/notifications/`)).statusCode).toBe(200);
    expect(await deletedIds(inside)).toContain(deleted);
    expect(await emailsAbout(inside)).toEqual(expect.arrayContaining([kept, deleted]));
    expect(await ids(inside, '/api/tasks/my_tasks/')).toEqual([kept]);
    expect(await external(inside)).toContain(kept);

    for (const path of [`/api/tasks/${kept}/history/`, `/api/tasks/${kept}/notifications/`]) {
      expect((await call(outside, 'GET', path)).statusCode, path).toBe(404);
    }
    expect(await deletedIds(outside)).not.toContain(deleted);
    expect(await deletedIds(owner)).toContain(deleted);
    expect(await ids(outside, '/api/tasks/?page_size=100')).not.toContain(kept);
    expect(await ids(outside, `/api/tasks/?search=secret`)).toEqual([]);
    expect(await external(outside)).not.toContain(kept);
    expect(await assignees(outside)).not.toContain(inside.user.id);
    expect(await assignees(owner)).toContain(inside.user.id);
  });

  it('stops showing it to a member removed from the project', async () => {
    expect((await call(owner, 'DELETE', `/api/projects/${projectId}/members/${inside.user.id}/`)).statusCode).toBe(204);
    expect((await call(inside, 'GET', `/api/tasks/${kept}/history/`)).statusCode).toBe(404);
    expect((await call(inside, 'GET', `/api/tasks/${kept}/notifications/`)).statusCode).toBe(404);
    expect(await deletedIds(inside)).not.toContain(deleted);
    const emails = await emailsAbout(inside);
    expect(emails).not.toContain(kept);
    expect(emails).not.toContain(deleted);
    expect(json<Page<unknown>>(await call(inside, 'GET', '/api/notifications/')).count).toBe(emails.length);
    expect(await ids(inside, '/api/tasks/my_tasks/')).toEqual([]);
    expect(await external(inside)).not.toContain(kept);
    expect(await assignees(inside)).not.toContain(inside.user.id);
    // The task's own page, and any write to it, as for a task of another company.
    expect((await call(inside, 'GET', `/api/tasks/${kept}/`)).statusCode).toBe(404);
    expect((await call(inside, 'PATCH', `/api/tasks/${kept}/`, { title: 'x' })).statusCode).toBe(404);
  });
});
