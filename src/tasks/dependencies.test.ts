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
import { TestSocket } from '../../test/ws.ts';
import type { Task } from './schemas.ts';

/** Dependencies that block, and subtasks (issue 17). */
describe('dependencies and subtasks', () => {
  let ctx: TestContext;
  let url: string;
  let admin: Session;
  let member: Session;
  let privateId: number;
  const call = (session: Session, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, payload?: object) =>
    ctx.app.inject({ method, url: path, headers: bearer(session.access), payload });
  const create = async (body: object, as = admin) => {
    const response = await call(as, 'POST', '/api/tasks/', body);
    expect(response.statusCode, response.body).toBe(201);
    return json<Task>(response);
  };
  const patch = (id: number, body: object, as = admin) => call(as, 'PATCH', `/api/tasks/${id}/`, body);
  const get = async (id: number, as = admin) => json<Task>(await call(as, 'GET', `/api/tasks/${id}/`));

  beforeAll(async () => {
    ctx = await createTestContext();
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}/ws/tasks/`;
    admin = await registerCompany(ctx.app);
    member = await addMember(ctx.app, admin);
    privateId = json<{ id: number }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Secret', key: 'SEC', is_private: true }),
    ).id;
  });
  afterAll(() => ctx.close());

  it('replaces blocked_by as a whole, lists blocking on the other side, and counts is_blocked', async () => {
    const a = await create({ title: 'a' });
    const b = await create({ title: 'b' });
    const c = await create({ title: 'c', blocked_by: [b.id, a.id] });
    expect(c.blocked_by).toEqual([a.id, b.id]);
    expect(c.is_blocked).toBe(true);
    expect((await get(a.id)).blocking).toEqual([c.id]);
    const replaced = json<Task>(await patch(c.id, { blocked_by: [b.id] }));
    expect(replaced.blocked_by).toEqual([b.id]);
    const history = json<{ results: Array<{ changes: Record<string, unknown> }> }>(
      await call(admin, 'GET', `/api/tasks/${c.id}/history/`),
    ).results;
    expect(history[0]?.changes.blocked_by).toEqual([[a.id, b.id], [b.id]]);
    expect((await get(a.id)).blocking).toEqual([]);
    expect(json<Task>(await patch(c.id, { blocked_by: [] })).is_blocked).toBe(false);
    expect(json(await patch(c.id, { blocked_by: [999_999] }))).toEqual({
      blocked_by: ['Invalid pk "999999" - object does not exist.'],
    });
  });

  it('refuses self, 2- and 3-long cycles, naming them by refs', async () => {
    const a = await create({ title: 'a' });
    const b = await create({ title: 'b', blocked_by: [a.id] });
    const c = await create({ title: 'c', blocked_by: [b.id] });
    const self = await patch(a.id, { blocked_by: [a.id] });
    expect(self.statusCode).toBe(400);
    expect(json(self)).toEqual({ blocked_by: [`This would close a cycle: ${a.ref} → ${a.ref}.`] });
    expect(json(await patch(a.id, { blocked_by: [b.id] }))).toEqual({
      blocked_by: [`This would close a cycle: ${a.ref} → ${b.ref} → ${a.ref}.`],
    });
    expect(json(await patch(a.id, { blocked_by: [c.id] }))).toEqual({
      blocked_by: [`This would close a cycle: ${a.ref} → ${c.ref} → ${b.ref} → ${a.ref}.`],
    });
    expect((await get(a.id)).blocked_by).toEqual([]);
  });

  it('lets only one of two concurrent writes closing a cycle commit', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await create({ title: 'a' });
      const b = await create({ title: 'b' });
      const answers = await Promise.all([patch(a.id, { blocked_by: [b.id] }), patch(b.id, { blocked_by: [a.id] })]);
      expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 400]);
    }
  });

  it('refuses to start or finish a blocked task with a 409 naming its open blockers', async () => {
    const blocker = await create({ title: 'Design' });
    const task = await create({ title: 'Build', blocked_by: [blocker.id] });
    for (const status of ['in_progress', 'done']) {
      const refused = await patch(task.id, { status });
      expect(refused.statusCode).toBe(409);
      expect(json(refused)).toEqual({ detail: `Blocked by ${blocker.ref} Design` });
    }
    expect(
      (await call(admin, 'POST', '/api/tasks/', { title: 'x', status: 'done', blocked_by: [blocker.id] })).statusCode,
    ).toBe(409);
    expect((await patch(blocker.id, { status: 'done' })).statusCode).toBe(200);
    expect(json<Task>(await patch(task.id, { status: 'in_progress' })).status).toBe('in_progress');
    // Reopening the blocker blocks it again.
    await patch(blocker.id, { status: 'todo' });
    expect((await get(task.id)).is_blocked).toBe(true);
    const listed = async (blocked: boolean) =>
      (await call(admin, 'GET', `/api/tasks/?is_blocked=${blocked}&page_size=100`))
        .json()
        .results.map((t: Task) => t.id);
    expect(await listed(true)).toContain(task.id);
    expect(await listed(false)).not.toContain(task.id);
    expect(await listed(false)).toContain(blocker.id);
  });

  it('announces an unblocked task to those who see it only, and emails its assignee', async () => {
    const blocker = await create({ title: 'blocker' });
    // Assigned by themselves: no assignment email to fold the unblocking into.
    const visible = await create({ title: 'visible', blocked_by: [blocker.id], assigned_to: member.user.id }, member);
    const hidden = await create({ title: 'hidden', project: privateId, blocked_by: [blocker.id] });
    const adminSocket = await TestSocket.open(url, { token: admin.access });
    const memberSocket = await TestSocket.open(url, { token: member.access });
    await adminSocket.ofType('connection_established');
    await memberSocket.ofType('connection_established');
    await patch(blocker.id, { status: 'done' });
    const told = (socket: TestSocket, id: number) =>
      socket.next(
        (m) => m.type === 'task_updated' && (m.task as Task).id === id && (m.task as Task).is_blocked === false,
      );
    await told(adminSocket, hidden.id);
    await told(adminSocket, visible.id);
    await told(memberSocket, visible.id);
    const item = await memberSocket.next((m) => m.type === 'inbox_item');
    expect(item.item).toMatchObject({ kind: 'unblocked', task: { id: visible.id, title: 'visible' } });
    // Sent after the answer, in the write's order: the blocker, what waited for it, then the inbox's push.
    const place = (id: number) => memberSocket.messages.findIndex((m) => (m.task as Task | undefined)?.id === id);
    expect(place(blocker.id)).toBeGreaterThanOrEqual(0);
    expect(place(blocker.id)).toBeLessThan(place(visible.id));
    expect(place(visible.id)).toBeLessThan(memberSocket.messages.indexOf(item));
    expect(memberSocket.messages.some((m) => (m.task as Task | undefined)?.id === hidden.id)).toBe(false);
    const emails = json<{ results: Array<{ task: number; kind: string }> }>(
      await call(member, 'GET', '/api/notifications/'),
    ).results;
    expect(emails.filter((e) => e.task === visible.id).map((e) => e.kind)).toContain('unblocked');
    adminSocket.close();
    memberSocket.close();
  });

  it('shows a cross-project link only to those who see both tasks, but counts it in is_blocked', async () => {
    const secret = await create({ title: 'secret', project: privateId });
    const open = await create({ title: 'open', blocked_by: [secret.id] });
    expect(open.blocked_by).toEqual([secret.id]);
    const seenByMember = await get(open.id, member);
    expect(seenByMember.blocked_by).toEqual([]);
    expect(seenByMember.is_blocked).toBe(true);
    // The member cannot link to it either, nor learn of it; their replacement keeps it.
    expect((await patch(open.id, { blocked_by: [secret.id] }, member)).statusCode).toBe(400);
    expect(json<Task>(await patch(open.id, { blocked_by: [] }, member)).is_blocked).toBe(true);
    expect((await get(open.id)).blocked_by).toEqual([secret.id]);
    const refused = await patch(open.id, { status: 'in_progress' }, member);
    expect(json(refused)).toEqual({ detail: 'Blocked by 1 task you cannot see' });
  });

  it('deleting a blocker unblocks its waiting tasks; deleting a parent makes its children top-level', async () => {
    const blocker = await create({ title: 'blocker' });
    const waiting = await create({ title: 'waiting', blocked_by: [blocker.id] });
    const parent = await create({ title: 'parent' });
    const child = await create({ title: 'child', parent: parent.id, status: 'done' });
    expect((await get(parent.id)).subtasks).toEqual({ total: 1, done: 1 });
    const socket = await TestSocket.open(url, { token: admin.access });
    await socket.ofType('connection_established');
    expect((await call(admin, 'DELETE', `/api/tasks/${blocker.id}/`)).statusCode).toBe(204);
    expect((await call(admin, 'DELETE', `/api/tasks/${parent.id}/`)).statusCode).toBe(204);
    await socket.next((m) => m.type === 'task_updated' && (m.task as Task).id === waiting.id);
    await socket.next((m) => m.type === 'task_updated' && (m.task as Task).id === child.id);
    expect(await get(waiting.id)).toMatchObject({ blocked_by: [], is_blocked: false });
    expect((await get(child.id)).parent).toBeNull();
    socket.close();
  });

  it('tells a parent’s new subtasks counts when a child is done', async () => {
    const parent = await create({ title: 'parent' });
    const child = await create({ title: 'child', parent: parent.id });
    const socket = await TestSocket.open(url, { token: member.access });
    await socket.ofType('connection_established');
    await patch(child.id, { status: 'done' });
    await socket.next(
      (m) =>
        m.type === 'task_updated' &&
        (m.task as Task).id === parent.id &&
        (m.task as Task).subtasks.done === 1 &&
        (m.task as Task).subtasks.total === 1,
    );
    socket.close();
  });

  it('refuses a workflow status change that would start blocked tasks, and tells what one that finishes tasks unblocks', async () => {
    const project = json<{ id: number }>(await call(admin, 'POST', '/api/projects/', { name: 'Flow', key: 'FLOW' })).id;
    const addStatus = async (name: string, category: string) =>
      json<{ id: number }>(await call(admin, 'POST', `/api/projects/${project}/statuses/`, { name, category })).id;
    const staging = await addStatus('Staging', 'todo');
    const review = await addStatus('Review', 'in_progress');
    const setCategory = (status: number, category: string) =>
      call(admin, 'PATCH', `/api/projects/${project}/statuses/${status}/`, { category });

    const open = await create({ title: 'open blocker', project });
    const stuck = await create({ title: 'stuck', project, state: staging, blocked_by: [open.id] });
    const refused = await setCategory(staging, 'in_progress');
    expect(refused.statusCode).toBe(409);
    expect(json<{ detail: string }>(refused).detail).toContain(`${stuck.ref} stuck`);
    expect(await get(stuck.id)).toMatchObject({ state: staging, status: 'todo' });

    const parent = await create({ title: 'parent', project });
    const blocker = await create({ title: 'in review', project, state: review, parent: parent.id });
    const waiting = await create({ title: 'waiting', project, blocked_by: [blocker.id] });
    const socket = await TestSocket.open(url, { token: member.access });
    await socket.ofType('connection_established');
    expect((await setCategory(review, 'done')).statusCode).toBe(200);
    await socket.next(
      (m) => m.type === 'task_updated' && (m.task as Task).id === waiting.id && (m.task as Task).is_blocked === false,
    );
    await socket.next(
      (m) => m.type === 'task_updated' && (m.task as Task).id === parent.id && (m.task as Task).subtasks.done === 1,
    );
    expect(await get(waiting.id)).toMatchObject({ is_blocked: false });
    socket.close();
  });

  it('keeps subtasks counts, refuses a parent that is the task or its descendant, and nests 5 levels at most', async () => {
    const levels = [await create({ title: 'level 1' })];
    for (let depth = 2; depth <= 5; depth++) {
      levels.push(await create({ title: `level ${depth}`, parent: (levels.at(-1) as Task).id }));
    }
    const [top, second, , , fifth] = levels as [Task, Task, Task, Task, Task];
    expect(json(await call(admin, 'POST', '/api/tasks/', { title: 'too deep', parent: fifth.id }))).toEqual({
      parent: ['Subtasks nest at most 5 levels deep.'],
    });
    expect((await patch(top.id, { parent: top.id })).statusCode).toBe(400);
    expect(json(await patch(top.id, { parent: fifth.id }))).toEqual({
      parent: ['This task is one of its subtasks, directly or not.'],
    });
    expect((await get(top.id)).subtasks).toEqual({ total: 1, done: 0 });
    await patch(second.id, { status: 'done' });
    expect((await get(top.id)).subtasks).toEqual({ total: 1, done: 1 });
    const list = json<{ results: Task[] }>(await call(admin, 'GET', `/api/tasks/?parent=${top.id}`)).results;
    expect(list.map((t) => t.id)).toEqual([second.id]);
    await patch(second.id, { parent: null });
    expect((await get(top.id)).subtasks).toEqual({ total: 0, done: 0 });
    const history = json<{ results: Array<{ changes: Record<string, unknown> }> }>(
      await call(admin, 'GET', `/api/tasks/${second.id}/history/`),
    ).results;
    expect(history[0]?.changes.parent).toEqual([top.id, null]);
  });
});
