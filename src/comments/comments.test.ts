import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  createTestContext,
  json,
  registerCompany,
  requestsTo,
  type Session,
  TEST_DB,
  type TestContext,
} from '../../test/helpers.ts';
import { TestSocket } from '../../test/ws.ts';
import type { InboxItem } from '../inbox/schemas.ts';
import { queryRows } from '../platform/db/index.ts';
import type { Task } from '../tasks/schemas.ts';
import type { CommentWriteListener } from './hooks.ts';
import type { Comment } from './schemas.ts';
import { CommentsService } from './service.ts';

type Page<T> = { count: number; next: string | null; results: T[] };

describe(`comments, mentions, watching and the inbox (${TEST_DB})`, () => {
  let ctx: TestContext;
  let admin: Session;
  /** In the private project as a member. */
  let writer: Session;
  /** In the private project as a viewer. */
  let viewer: Session;
  /** Its manager (a company member). */
  let manager: Session;
  /** A company member outside the private project. */
  let outsider: Session;
  /** A guest of the company in no project. */
  let guest: Session;
  let project: number;
  const { call, createTask } = requestsTo(() => ctx.app);

  beforeAll(async () => {
    ctx = await createTestContext();
    admin = await registerCompany(ctx.app);
    writer = await addMember(ctx.app, admin);
    viewer = await addMember(ctx.app, admin);
    manager = await addMember(ctx.app, admin);
    outsider = await addMember(ctx.app, admin);
    guest = await addMember(ctx.app, admin, 'guest');
    project = json<{ id: number }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Secret', is_private: true }),
    ).id;
    for (const [who, role] of [
      [writer, 'member'],
      [viewer, 'viewer'],
      [manager, 'manager'],
    ] as const) {
      expect((await call(admin, 'PUT', `/api/projects/${project}/members/${who.user.id}/`, { role })).statusCode).toBe(
        200,
      );
    }
  });
  afterAll(() => ctx.close());

  const comment = async (session: Session, task: number, body: string) => {
    const response = await call(session, 'POST', `/api/tasks/${task}/comments/`, { body });
    if (response.statusCode !== 201) throw new Error(`comment failed: ${response.statusCode} ${response.body}`);
    return json<Comment>(response);
  };
  const inbox = async (session: Session, query = '') =>
    json<Page<InboxItem>>(await call(session, 'GET', `/api/inbox/${query}`));
  const itemsAbout = async (session: Session, task: number) =>
    (await inbox(session, '?page_size=100')).results.filter((i) => i.task.id === task);
  const taskAs = async (session: Session, id: number) => json<Task>(await call(session, 'GET', `/api/tasks/${id}/`));
  /** Rows of a table whatever the reader: the database's own count, as the system role. */
  const rowsOf = async (table: 'comments' | 'task_watchers' | 'inbox_items', task: number) =>
    (
      await ctx.db.unsafeSystem((tx) =>
        queryRows<{ n: number }>(tx, sql`select count(*)::int as n from ${sql.raw(table)} where task_id = ${task}`),
      )
    )[0]?.n;

  it('lets anyone who sees the task comment, viewers too, oldest first, and counts them on the task', async () => {
    const task = await createTask(writer, { project });
    expect(task.comment_count).toBe(0);
    const first = await comment(viewer, task.id, 'First, **as written** <b>raw</b>\n');
    expect(first).toMatchObject({
      task: task.id,
      author: { id: viewer.user.id, username: viewer.user.username, first_name: 'Test', last_name: 'User' },
      body: 'First, **as written** <b>raw</b>\n',
      mentions: [],
      edited: false,
    });
    await comment(writer, task.id, 'Second');
    const page = json<Page<Comment>>(await call(admin, 'GET', `/api/tasks/${task.id}/comments/?page_size=1`));
    expect(page.count).toBe(2);
    expect(page.results.map((c) => c.body)).toEqual([first.body]);
    expect(page.next).not.toBeNull();
    expect((await taskAs(viewer, task.id)).comment_count).toBe(2);
    const listed = json<Page<Task>>(await call(writer, 'GET', `/api/tasks/?project=${project}`));
    expect(listed.results.find((t) => t.id === task.id)?.comment_count).toBe(2);
  });

  it('answers 404 to those who do not see the task, and 400 to bad bodies', async () => {
    const task = await createTask(writer, { project });
    for (const who of [guest, outsider]) {
      expect((await call(who, 'GET', `/api/tasks/${task.id}/comments/`)).statusCode).toBe(404);
      expect((await call(who, 'POST', `/api/tasks/${task.id}/comments/`, { body: 'hi' })).statusCode).toBe(404);
      expect((await call(who, 'POST', `/api/tasks/${task.id}/watch/`)).statusCode).toBe(404);
    }
    expect((await call(writer, 'GET', '/api/tasks/999999/comments/')).statusCode).toBe(404);
    expect((await call(writer, 'GET', '/api/tasks/abc/comments/')).statusCode).toBe(404);
    for (const body of [{}, { body: '' }, { body: '   \n' }, { body: 'x'.repeat(10_001) }, { body: 42 }]) {
      const response = await call(writer, 'POST', `/api/tasks/${task.id}/comments/`, body);
      expect(response.statusCode, JSON.stringify(body).slice(0, 40)).toBe(400);
    }
    expect(json(await call(writer, 'POST', `/api/tasks/${task.id}/comments/`, { body: '' }))).toHaveProperty('body');
    expect(
      (await call(writer, 'POST', `/api/tasks/${task.id}/comments/`, { body: 'x'.repeat(10_000) })).statusCode,
    ).toBe(201);
    expect((await call(null, 'GET', `/api/tasks/${task.id}/comments/`)).statusCode).toBe(401);
    expect(await rowsOf('comments', task.id)).toBe(1);
  });

  it('lets only the author edit, and the author, admins and managers delete', async () => {
    const task = await createTask(writer, { project });
    const mine = await comment(writer, task.id, 'Mine');
    const url = `/api/tasks/${task.id}/comments/${mine.id}/`;
    for (const who of [admin, manager, viewer]) {
      expect((await call(who, 'PATCH', url, { body: 'Not yours' })).statusCode).toBe(403);
    }
    expect((await call(outsider, 'PATCH', url, { body: 'x' })).statusCode).toBe(404);
    expect((await call(writer, 'PATCH', `/api/tasks/${task.id}/comments/999999/`, { body: 'x' })).statusCode).toBe(404);
    const edited = json<Comment>(await call(writer, 'PATCH', url, { body: 'Mine, edited' }));
    expect(edited).toMatchObject({ id: mine.id, body: 'Mine, edited', edited: true });
    expect(edited.updated_at >= mine.updated_at).toBe(true);
    expect((await call(writer, 'PATCH', url, { body: '' })).statusCode).toBe(400);

    expect((await call(viewer, 'DELETE', url)).statusCode).toBe(403);
    expect((await call(outsider, 'DELETE', url)).statusCode).toBe(404);
    expect((await call(manager, 'DELETE', url)).statusCode).toBe(204);
    const another = await comment(viewer, task.id, 'By the viewer');
    expect((await call(admin, 'DELETE', `/api/tasks/${task.id}/comments/${another.id}/`)).statusCode).toBe(204);
    const own = await comment(viewer, task.id, 'Again');
    expect((await call(viewer, 'DELETE', `/api/tasks/${task.id}/comments/${own.id}/`)).statusCode).toBe(204);
    expect((await call(viewer, 'DELETE', `/api/tasks/${task.id}/comments/${own.id}/`)).statusCode).toBe(404);
    expect((await taskAs(writer, task.id)).comment_count).toBe(0);
  });

  it('resolves @mentions of people who see the task in any letter case, and leaves others as text', async () => {
    const task = await createTask(admin, { project });
    const body = `Hi @${viewer.user.username.toUpperCase()}, @${outsider.user.username} and @nobody-here.`;
    const written = await comment(writer, task.id, body);
    expect(written.body).toBe(body);
    expect(written.mentions).toEqual([viewer.user.id]);
    // The outsider learns nothing: no item, not watching, and the task stays unseen to them.
    expect(await itemsAbout(viewer, task.id)).toMatchObject([{ kind: 'mentioned', actor: { id: writer.user.id } }]);
    expect((await inbox(outsider)).results.filter((i) => i.task.id === task.id)).toEqual([]);
    expect((await call(outsider, 'GET', `/api/tasks/${task.id}/`)).statusCode).toBe(404);
    expect((await taskAs(viewer, task.id)).is_watching).toBe(true);
    expect((await taskAs(writer, task.id)).is_watching).toBe(true);
    // An unknown name and a colleague who does not see the task get the same answer.
    const a = await call(writer, 'POST', `/api/tasks/${task.id}/comments/`, { body: `@${outsider.user.username}` });
    const b = await call(writer, 'POST', `/api/tasks/${task.id}/comments/`, { body: '@no-such-user-at-all' });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect([json<Comment>(a).mentions, json<Comment>(b).mentions]).toEqual([[], []]);
    // An edit tells only those newly mentioned; the author never.
    const edited = json<Comment>(
      await call(writer, 'PATCH', `/api/tasks/${task.id}/comments/${written.id}/`, {
        body: `${body} and @${manager.user.username} and @${writer.user.username}`,
      }),
    );
    expect(edited.mentions).toEqual([writer.user.id, viewer.user.id, manager.user.id].sort((x, y) => x - y));
    // The viewer, watching since the mention, heard of the two comments after it; not of the edit.
    expect((await itemsAbout(viewer, task.id)).map((i) => i.kind)).toEqual(['commented', 'commented', 'mentioned']);
    expect((await itemsAbout(manager, task.id)).map((i) => i.kind)).toEqual(['mentioned']);
    expect(await itemsAbout(writer, task.id)).toEqual([]);
  });

  it('makes items for others only: assigned, commented and status_changed to watchers, unblocked', async () => {
    const blocker = await createTask(admin, { project, title: 'Blocker' });
    const task = await createTask(admin, {
      project,
      title: 'Work',
      assigned_to: writer.user.id,
      blocked_by: [blocker.id],
    });
    expect((await itemsAbout(writer, task.id)).map((i) => i.kind)).toEqual(['assigned']);
    expect(await itemsAbout(admin, task.id)).toEqual([]);
    // Assigning oneself makes no item.
    const own = await createTask(writer, { project, assigned_to: writer.user.id });
    expect(await itemsAbout(writer, own.id)).toEqual([]);
    // The viewer watches; a comment reaches the watchers but its author.
    expect((await call(viewer, 'POST', `/api/tasks/${task.id}/watch/`)).statusCode).toBe(204);
    await comment(writer, task.id, 'Starting soon');
    expect((await itemsAbout(viewer, task.id)).map((i) => i.kind)).toEqual(['commented']);
    expect((await itemsAbout(admin, task.id)).map((i) => i.kind)).toEqual(['commented']);
    expect((await itemsAbout(writer, task.id)).map((i) => i.kind)).toEqual(['assigned']);
    // The blocker done: the assignee hears the task is unblocked.
    await call(manager, 'PATCH', `/api/tasks/${blocker.id}/`, { status: 'done' });
    expect((await itemsAbout(writer, task.id)).map((i) => i.kind)).toEqual(['unblocked', 'assigned']);
    expect((await itemsAbout(writer, task.id))[0]?.actor).toEqual({
      id: manager.user.id,
      username: manager.user.username,
    });
    // A status change by the assignee reaches the other watchers.
    await call(writer, 'PATCH', `/api/tasks/${task.id}/`, { status: 'in_progress' });
    expect((await itemsAbout(viewer, task.id)).map((i) => i.kind)).toEqual(['status_changed', 'commented']);
    expect((await itemsAbout(writer, task.id)).map((i) => i.kind)).toEqual(['unblocked', 'assigned']);
    const item = (await itemsAbout(viewer, task.id))[0] as InboxItem;
    expect(item).toMatchObject({ task: { id: task.id, ref: task.ref, title: 'Work' }, read_at: null });
  });

  it('counts unread items, marks one or all read, and keeps another’s items a 404', async () => {
    const before = json<{ count: number }>(await call(viewer, 'GET', '/api/inbox/unread-count/')).count;
    const task = await createTask(admin, { project });
    await comment(admin, task.id, `@${viewer.user.username} one`);
    await comment(admin, task.id, `@${viewer.user.username} two`);
    expect(json(await call(viewer, 'GET', '/api/inbox/unread-count'))).toEqual({ count: before + 2 });
    const [item] = await itemsAbout(viewer, task.id);
    expect(item?.kind).toBe('mentioned');
    const id = (item as InboxItem).id;
    expect((await call(writer, 'POST', `/api/inbox/${id}/read/`)).statusCode).toBe(404);
    expect((await call(outsider, 'POST', `/api/inbox/${id}/read/`)).statusCode).toBe(404);
    expect((await call(viewer, 'POST', '/api/inbox/999999/read/')).statusCode).toBe(404);
    const read = json<InboxItem>(await call(viewer, 'POST', `/api/inbox/${id}/read/`));
    expect(read.read_at).not.toBeNull();
    expect(json<InboxItem>(await call(viewer, 'POST', `/api/inbox/${id}/read/`)).read_at).toBe(read.read_at);
    expect(json(await call(viewer, 'GET', '/api/inbox/unread-count/'))).toEqual({ count: before + 1 });
    expect((await inbox(viewer, '?unread=true')).results.some((i) => i.id === id)).toBe(false);
    expect((await inbox(viewer)).results.some((i) => i.id === id)).toBe(true);
    expect((await call(viewer, 'GET', '/api/inbox/?unread=maybe')).statusCode).toBe(400);
    expect((await call(viewer, 'POST', '/api/inbox/read-all/')).statusCode).toBe(204);
    expect(json(await call(viewer, 'GET', '/api/inbox/unread-count/'))).toEqual({ count: 0 });
    expect((await inbox(viewer, '?unread=true')).count).toBe(0);
    expect((await call(null, 'GET', '/api/inbox/')).statusCode).toBe(401);
    expect((await call(viewer, 'GET', '/api/inbox/?page=99')).statusCode).toBe(404);
  });

  it('hides items of a task its recipient no longer sees', async () => {
    const task = await createTask(admin, { project });
    const extra = await addMember(ctx.app, admin);
    await call(admin, 'PUT', `/api/projects/${project}/members/${extra.user.id}/`, { role: 'member' });
    await comment(admin, task.id, `@${extra.user.username}`);
    expect(json(await call(extra, 'GET', '/api/inbox/unread-count/'))).toEqual({ count: 1 });
    await call(admin, 'DELETE', `/api/projects/${project}/members/${extra.user.id}/`);
    expect(json(await call(extra, 'GET', '/api/inbox/unread-count/'))).toEqual({ count: 0 });
    expect((await inbox(extra)).results).toEqual([]);
  });

  it('watches and unwatches; an archived project refuses both, and comments', async () => {
    const task = await createTask(writer, { project });
    expect((await taskAs(viewer, task.id)).is_watching).toBe(false);
    expect((await taskAs(writer, task.id)).is_watching).toBe(true);
    expect((await call(viewer, 'POST', `/api/tasks/${task.id}/watch/`)).statusCode).toBe(204);
    expect((await call(viewer, 'POST', `/api/tasks/${task.id}/watch`)).statusCode).toBe(204);
    expect((await taskAs(viewer, task.id)).is_watching).toBe(true);
    expect((await call(viewer, 'DELETE', `/api/tasks/${task.id}/watch/`)).statusCode).toBe(204);
    expect((await taskAs(viewer, task.id)).is_watching).toBe(false);

    const archive = json<{ id: number }>(await call(admin, 'POST', '/api/projects/', { name: 'Old times' })).id;
    const old = await createTask(admin, { project: archive });
    const said = await comment(admin, old.id, 'Before archiving');
    expect((await call(admin, 'PATCH', `/api/projects/${archive}/`, { archived: true })).statusCode).toBe(200);
    expect((await call(admin, 'POST', `/api/tasks/${old.id}/comments/`, { body: 'x' })).statusCode).toBe(409);
    expect((await call(admin, 'PATCH', `/api/tasks/${old.id}/comments/${said.id}/`, { body: 'x' })).statusCode).toBe(
      409,
    );
    expect((await call(admin, 'DELETE', `/api/tasks/${old.id}/comments/${said.id}/`)).statusCode).toBe(409);
    expect((await call(writer, 'POST', `/api/tasks/${old.id}/watch/`)).statusCode).toBe(409);
    expect((await call(admin, 'DELETE', `/api/tasks/${old.id}/watch/`)).statusCode).toBe(409);
    expect(json<Page<Comment>>(await call(writer, 'GET', `/api/tasks/${old.id}/comments/`)).count).toBe(1);
  });

  it('leaves neither comment nor item when the comment’s transaction fails', async () => {
    const task = await createTask(admin, { project });
    const failing: CommentWriteListener = {
      commentInTransaction: async () => {
        throw new Error('fails after the inbox recorded its items');
      },
    };
    const service = new CommentsService(ctx.db, [ctx.services.inbox, failing]);
    await expect(
      service.create({ companyId: admin.user.company.id, userId: writer.user.id }, task.id, {
        body: `@${viewer.user.username} look`,
      }),
    ).rejects.toThrow('fails after');
    expect(await rowsOf('comments', task.id)).toBe(0);
    expect(await rowsOf('inbox_items', task.id)).toBe(0);
    expect((await taskAs(admin, task.id)).comment_count).toBe(0);
    expect((await taskAs(viewer, task.id)).is_watching).toBe(false);
  });

  it('deletes a task’s comments, watchers and items with it', async () => {
    const task = await createTask(admin, { project, assigned_to: writer.user.id });
    await comment(viewer, task.id, `@${manager.user.username}`);
    expect(await rowsOf('comments', task.id)).toBe(1);
    expect(await rowsOf('task_watchers', task.id)).toBeGreaterThan(0);
    expect(await rowsOf('inbox_items', task.id)).toBeGreaterThan(0);
    expect((await call(admin, 'DELETE', `/api/tasks/${task.id}/`)).statusCode).toBe(204);
    expect([
      await rowsOf('comments', task.id),
      await rowsOf('task_watchers', task.id),
      await rowsOf('inbox_items', task.id),
    ]).toEqual([0, 0, 0]);
  });

  it('sends comment events to those who see the project only, and inbox items to their recipient only', async () => {
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `ws://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}/ws/tasks/`;
    const sockets = {
      viewer: await TestSocket.open(url, { token: viewer.access }),
      outsider: await TestSocket.open(url, { token: outsider.access }),
      manager: await TestSocket.open(url, { token: manager.access }),
    };
    for (const socket of Object.values(sockets)) await socket.ofType('connection_established');
    const task = await createTask(admin, { project });
    const said = await comment(writer, task.id, `For @${manager.user.username}`);
    const created = await sockets.viewer.next((m) => m.type === 'comment_created');
    expect(created.comment).toEqual(said);
    const item = await sockets.manager.next((m) => m.type === 'inbox_item');
    expect(item.item).toMatchObject({ kind: 'mentioned', task: { id: task.id, ref: task.ref }, read_at: null });
    await call(writer, 'PATCH', `/api/tasks/${task.id}/comments/${said.id}/`, { body: 'Changed' });
    expect((await sockets.viewer.next((m) => m.type === 'comment_updated')).comment).toMatchObject({ edited: true });
    await call(writer, 'DELETE', `/api/tasks/${task.id}/comments/${said.id}/`);
    expect((await sockets.viewer.next((m) => m.type === 'comment_deleted')).comment).toEqual({
      id: said.id,
      task: task.id,
    });
    // A later event of the default project, which everyone sees, marks the moment the rest would have come.
    const marker = await createTask(admin, { title: 'marker' });
    for (const socket of [sockets.outsider, sockets.viewer]) {
      await socket.next((m) => m.type === 'task_created' && (m.task as Task).id === marker.id);
    }
    expect(sockets.outsider.messages.filter((m) => String(m.type).startsWith('comment_'))).toEqual([]);
    expect(sockets.outsider.messages.filter((m) => m.type === 'inbox_item')).toEqual([]);
    expect(sockets.viewer.messages.filter((m) => m.type === 'inbox_item')).toEqual([]);
    for (const socket of Object.values(sockets)) socket.close();
  });
});
