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

interface Status {
  id: number;
  name: string;
  category: string;
  position: number;
  color: string;
}
interface Task {
  id: number;
  state: number;
  status: string;
  completed_at: string | null;
}

describe('workflow statuses', () => {
  let ctx: TestContext;
  let owner: Session;
  let member: Session;
  let projectId: number;
  const call = (session: Session, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(session.access), payload });
  const statuses = async () => json<Status[]>(await call(owner, 'GET', `/api/projects/${projectId}/statuses/`));

  beforeAll(async () => {
    ctx = await createTestContext();
    owner = await registerCompany(ctx.app);
    member = await addMember(ctx.app, owner);
    projectId = json<{ id: number }>(await call(owner, 'POST', '/api/projects/', { name: 'Flow', key: 'FLOW' })).id;
  });
  afterAll(() => ctx.close());

  it('starts with To do, In progress and Done, and inserts a status between them, renumbering', async () => {
    expect((await statuses()).map((s) => [s.name, s.category, s.position])).toEqual([
      ['To do', 'todo', 0],
      ['In progress', 'in_progress', 1],
      ['Done', 'done', 2],
    ]);
    const review = await call(owner, 'POST', `/api/projects/${projectId}/statuses/`, {
      name: 'Review',
      category: 'in_progress',
      position: 2,
      color: '#AABBCC',
    });
    expect(review.statusCode).toBe(201);
    expect(json(review)).toMatchObject({ name: 'Review', position: 2, color: '#aabbcc', project: projectId });
    expect((await statuses()).map((s) => [s.name, s.position])).toEqual([
      ['To do', 0],
      ['In progress', 1],
      ['Review', 2],
      ['Done', 3],
    ]);
    const taken = await call(owner, 'POST', `/api/projects/${projectId}/statuses/`, {
      name: 'review',
      category: 'todo',
    });
    expect([taken.statusCode, Object.keys(json(taken))]).toEqual([400, ['name']]);
    const moved = await call(owner, 'PATCH', `/api/projects/${projectId}/statuses/${json<Status>(review).id}/`, {
      position: 0,
    });
    expect(json(moved)).toMatchObject({ position: 0 });
    expect((await statuses()).map((s) => s.position)).toEqual([0, 1, 2, 3]);
    // Members of the company read them; only managers change them.
    expect((await call(member, 'GET', `/api/projects/${projectId}/statuses/`)).statusCode).toBe(200);
    expect(
      (await call(member, 'POST', `/api/projects/${projectId}/statuses/`, { name: 'X', category: 'todo' })).statusCode,
    ).toBe(403);
  });

  it('moves tasks’ status and completed_at with a category change, and deletes only with move_to', async () => {
    const all = await statuses();
    const review = all.find((s) => s.name === 'Review') as Status;
    const done = all.find((s) => s.name === 'Done') as Status;
    const todo = all.find((s) => s.name === 'To do') as Status;
    const task = json<Task>(
      await call(owner, 'POST', '/api/tasks/', { title: 'a', project: projectId, state: review.id }),
    );
    expect(task.status).toBe('in_progress');
    await call(owner, 'PATCH', `/api/projects/${projectId}/statuses/${review.id}/`, { category: 'done' });
    const after = json<Task>(await call(owner, 'GET', `/api/tasks/${task.id}/`));
    expect(after).toMatchObject({ state: review.id, status: 'done', completed_at: expect.any(String) });
    // The last todo status cannot go, nor change category.
    expect((await call(owner, 'DELETE', `/api/projects/${projectId}/statuses/${todo.id}/`)).statusCode).toBe(409);
    const recategorized = await call(owner, 'PATCH', `/api/projects/${projectId}/statuses/${todo.id}/`, {
      category: 'done',
    });
    expect(recategorized.statusCode).toBe(409);
    expect((await call(owner, 'DELETE', `/api/projects/${projectId}/statuses/${review.id}/`)).statusCode).toBe(409);
    const wrong = await call(owner, 'DELETE', `/api/projects/${projectId}/statuses/${review.id}/?move_to=${review.id}`);
    expect(wrong.statusCode).toBe(400);
    const deleted = await call(owner, 'DELETE', `/api/projects/${projectId}/statuses/${review.id}/?move_to=${todo.id}`);
    expect(deleted.statusCode).toBe(204);
    expect(json(await call(owner, 'GET', `/api/tasks/${task.id}/`))).toMatchObject({
      state: todo.id,
      status: 'todo',
      completed_at: null,
    });
    expect((await statuses()).map((s) => s.position)).toEqual([0, 1, 2]);
    expect(done.category).toBe('done');
  });

  it('allows at most 30 statuses a project', async () => {
    for (let i = (await statuses()).length; i < 30; i++) {
      const made = await call(owner, 'POST', `/api/projects/${projectId}/statuses/`, {
        name: `s${i}`,
        category: 'todo',
      });
      expect(made.statusCode).toBe(201);
    }
    const over = await call(owner, 'POST', `/api/projects/${projectId}/statuses/`, {
      name: 'one more',
      category: 'todo',
    });
    expect(over.statusCode).toBe(400);
  });
});
