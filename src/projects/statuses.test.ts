import { sql } from 'drizzle-orm';
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
import { until } from '../../test/timing.ts';
import { TestSocket } from '../../test/ws.ts';
import { queryRows } from '../platform/db/index.ts';

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
interface Entry {
  actor: number;
  action: string;
  changes: Record<string, [unknown, unknown]>;
}

describe('workflow statuses', () => {
  let ctx: TestContext;
  let owner: Session;
  let member: Session;
  let projectId: number;
  const call = (session: Session, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(session.access), payload });
  const statuses = async () => json<Status[]>(await call(owner, 'GET', `/api/projects/${projectId}/statuses/`));

  beforeAll(async () => {
    ctx = await createTestContext();
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
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

  it('records the tasks a status change moves in their history, announces each to those who see the project, and emails as any status change', async () => {
    const socketUrl = `ws://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}/ws/tasks/`;
    const outsider = await addMember(ctx.app, owner);
    const moves = json<{ id: number }>(
      await call(owner, 'POST', '/api/projects/', { name: 'Moves', key: 'MOVE', is_private: true }),
    ).id;
    await call(owner, 'PUT', `/api/projects/${moves}/members/${member.user.id}/`, { role: 'member' });
    await call(member, 'PUT', '/api/notifications/preferences/', {
      email_on_assignment: false,
      email_on_status_change: true,
      daily_digest: false,
    });
    const review = json<Status>(
      await call(owner, 'POST', `/api/projects/${moves}/statuses/`, { name: 'Review', category: 'in_progress' }),
    );
    const [todo] = json<Status[]>(await call(owner, 'GET', `/api/projects/${moves}/statuses/`));
    const tasks = await Promise.all(
      [member.user.id, null, null].map(async (assignee, i) =>
        json<Task>(
          await call(owner, 'POST', '/api/tasks/', {
            title: `moved ${i}`,
            project: moves,
            state: review.id,
            assigned_to: assignee,
          }),
        ),
      ),
    );
    const ids = tasks.map((t) => t.id).sort((a, b) => a - b);
    const sockets = {
      member: await TestSocket.open(socketUrl, { token: member.access }),
      outsider: await TestSocket.open(socketUrl, { token: outsider.access }),
    };
    for (const socket of Object.values(sockets)) await socket.ofType('connection_established');
    const updatedIds = (socket: TestSocket, from: number) =>
      socket.messages
        .slice(from)
        .filter((m) => m.type === 'task_updated')
        .map((m) => m.task as Task);
    const lastEntry = async (id: number) =>
      json<{ results: Entry[] }>(await call(member, 'GET', `/api/tasks/${id}/history/`)).results[0];

    // A category change: status and completed_at move, the state stays.
    let from = sockets.member.messages.length;
    await call(owner, 'PATCH', `/api/projects/${moves}/statuses/${review.id}/`, { category: 'done' });
    await until(() => updatedIds(sockets.member, from).length === 3, 5_000, 'three task_updated');
    const done = updatedIds(sockets.member, from);
    expect(done.map((t) => t.id).sort((a, b) => a - b)).toEqual(ids);
    for (const task of done) expect(task).toMatchObject({ status: 'done', state: review.id });
    for (const id of ids) {
      const entry = await lastEntry(id);
      expect(entry).toMatchObject({ actor: owner.user.id, action: 'updated' });
      expect(Object.keys(entry?.changes ?? {}).sort()).toEqual(['completed_at', 'status']);
      expect(entry?.changes.status).toEqual(['in_progress', 'done']);
    }
    // The assignee asked for status change emails: one about their task, none about the others.
    const emails = json<{ results: Array<{ task: number; kind: string }> }>(
      await call(member, 'GET', '/api/notifications/'),
    ).results;
    expect(emails.filter((e) => ids.includes(e.task)).map((e) => [e.task, e.kind])).toEqual([
      [tasks[0]?.id, 'status_changed'],
    ]);

    // Deleted with move_to: the tasks take the other state, announced before the status's deletion.
    from = sockets.member.messages.length;
    await call(owner, 'DELETE', `/api/projects/${moves}/statuses/${review.id}/?move_to=${todo?.id}`);
    await sockets.member.next((m) => m.type === 'status_deleted', 5_000, from);
    const moved = updatedIds(sockets.member, from);
    expect(moved.map((t) => t.id).sort((a, b) => a - b)).toEqual(ids);
    for (const task of moved) expect(task).toMatchObject({ status: 'todo', state: todo?.id, completed_at: null });
    for (const id of ids) {
      expect((await lastEntry(id))?.changes).toMatchObject({
        state: [review.id, todo?.id],
        status: ['done', 'todo'],
        completed_at: [expect.any(String), null],
      });
    }

    // The company member outside the private project heard of none of it (a label event is their marker).
    await call(owner, 'POST', '/api/labels/', { name: 'moves marker' });
    await sockets.outsider.ofType('label_updated');
    expect(sockets.outsider.messages.map((m) => m.type)).toEqual(['connection_established', 'label_updated']);
    for (const socket of Object.values(sockets)) socket.close();
  });

  it('unblocks the tasks waiting for those a category change finishes, and blocks them again when undone', async () => {
    const gate = json<{ id: number }>(await call(owner, 'POST', '/api/projects/', { name: 'Gate', key: 'GATE' })).id;
    const review = json<Status>(
      await call(owner, 'POST', `/api/projects/${gate}/statuses/`, { name: 'Checks', category: 'in_progress' }),
    );
    const blocker = json<Task>(
      await call(owner, 'POST', '/api/tasks/', { title: 'checked', project: gate, state: review.id }),
    );
    const waiting = json<Task & { is_blocked: boolean; ref: string }>(
      await call(owner, 'POST', '/api/tasks/', {
        title: 'waits for the checks',
        project: gate,
        assigned_to: member.user.id,
        blocked_by: [blocker.id],
      }),
    );
    expect(waiting.is_blocked).toBe(true);
    const socketUrl = `ws://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}/ws/tasks/`;
    const socket = await TestSocket.open(socketUrl, { token: member.access });
    await socket.ofType('connection_established');
    const told = (from: number) =>
      socket.next((m) => m.type === 'task_updated' && (m.task as Task).id === waiting.id, 5_000, from);

    let from = socket.messages.length;
    await call(owner, 'PATCH', `/api/projects/${gate}/statuses/${review.id}/`, { category: 'done' });
    expect((await told(from)).task).toMatchObject({ id: waiting.id, is_blocked: false, status: 'todo' });
    const items = json<{ results: Array<{ kind: string; task: { id: number } }> }>(
      await call(member, 'GET', '/api/inbox/'),
    ).results.filter((item) => item.task.id === waiting.id);
    expect(items.map((item) => item.kind)).toEqual(['unblocked', 'assigned']);

    from = socket.messages.length;
    await call(owner, 'PATCH', `/api/projects/${gate}/statuses/${review.id}/`, { category: 'in_progress' });
    expect((await told(from)).task).toMatchObject({ id: waiting.id, is_blocked: true });
    socket.close();

    // Blocked again, it cannot start by its status's category either: the change is refused whole.
    const queue = json<Status>(
      await call(owner, 'POST', `/api/projects/${gate}/statuses/`, { name: 'Queue', category: 'todo' }),
    );
    expect((await call(owner, 'PATCH', `/api/tasks/${waiting.id}/`, { state: queue.id })).statusCode).toBe(200);
    const refused = await call(owner, 'PATCH', `/api/projects/${gate}/statuses/${queue.id}/`, {
      category: 'in_progress',
    });
    expect(refused.statusCode).toBe(409);
    expect(json<{ detail: string }>(refused).detail).toContain(`${waiting.ref} waits for the checks`);
    expect(
      json<Status[]>(await call(owner, 'GET', `/api/projects/${gate}/statuses/`)).find((s) => s.id === queue.id),
    ).toMatchObject({ category: 'todo' });
  });

  it('moves a status’s many tasks in one go', async () => {
    const bulk = json<{ id: number }>(await call(owner, 'POST', '/api/projects/', { name: 'Bulk', key: 'BULK' })).id;
    const [todo, doing] = json<Status[]>(await call(owner, 'GET', `/api/projects/${bulk}/statuses/`));
    const count = 600;
    await ctx.db.tenant(owner.user.company.id, (tx) =>
      tx.execute(sql`insert into tasks (company_id, title, created_by, project_id, state_id, status)
        select ${owner.user.company.id}, 'bulk ' || n, ${owner.user.id}, ${bulk}, ${doing?.id}, 'in_progress'
          from generate_series(1, ${count}) n`),
    );
    const socketUrl = `ws://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}/ws/tasks/`;
    const socket = await TestSocket.open(socketUrl, { token: member.access });
    await socket.ofType('connection_established');
    const deleted = await call(owner, 'DELETE', `/api/projects/${bulk}/statuses/${doing?.id}/?move_to=${todo?.id}`);
    expect(deleted.statusCode).toBe(204);
    await socket.next((m) => m.type === 'status_deleted', 10_000);
    expect(socket.messages.filter((m) => m.type === 'task_updated')).toHaveLength(count);
    const [row] = await ctx.db.tenant(owner.user.company.id, (tx) =>
      queryRows<{ moved: number; entries: number }>(
        tx,
        sql`select count(*) filter (where t.state_id = ${todo?.id} and t.status = 'todo')::int as moved,
                   (select count(*)::int from task_history h where h.project_id = ${bulk} and h.action = 'updated') as entries
              from tasks t where t.project_id = ${bulk}`,
      ),
    );
    expect(row).toEqual({ moved: count, entries: count });
    socket.close();
  });
});
