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

/** Task and project events reach the sockets of the users who see the project, and no others. */
describe('live updates by project', () => {
  let ctx: TestContext;
  let url: string;
  let admin: Session;
  let member: Session;
  let privateId: number;
  const call = (session: Session, method: 'POST' | 'PUT' | 'DELETE' | 'PATCH', path: string, payload?: object) =>
    ctx.app.inject({ method, url: path, headers: bearer(session.access), payload });
  const createIn = async (project: number | undefined, title: string) =>
    json<{ id: number }>(await call(admin, 'POST', '/api/tasks/', { title, project })).id;

  beforeAll(async () => {
    ctx = await createTestContext();
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}/ws/tasks/`;
    admin = await registerCompany(ctx.app);
    member = await addMember(ctx.app, admin);
    privateId = json<{ id: number }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Secret', is_private: true }),
    ).id;
  });
  afterAll(() => ctx.close());

  /**
   * A task in the private project, then one in the default project: the member's socket gets the
   * second (their bus order is kept), and whether it got the first says if they see the project.
   */
  const memberGetsPrivate = async (socket: TestSocket): Promise<boolean> => {
    const hidden = await createIn(privateId, 'secret');
    const marker = await createIn(undefined, 'marker');
    await socket.next((m) => m.type === 'task_created' && (m.task as { id: number }).id === marker);
    return socket.messages.some((m) => m.type === 'task_created' && (m.task as { id: number }).id === hidden);
  };

  it('keeps a private project’s events from a company member outside it, and follows membership without reconnecting', async () => {
    const adminSocket = await TestSocket.open(url, { token: admin.access });
    const memberSocket = await TestSocket.open(url, { token: member.access });
    await adminSocket.ofType('connection_established');
    await memberSocket.ofType('connection_established');

    const hidden = await createIn(privateId, 'not for members');
    await adminSocket.next((m) => m.type === 'task_created' && (m.task as { id: number }).id === hidden);
    expect(await memberGetsPrivate(memberSocket)).toBe(false);

    expect(
      (await call(admin, 'PUT', `/api/projects/${privateId}/members/${member.user.id}/`, { role: 'viewer' }))
        .statusCode,
    ).toBe(200);
    await until(() => memberGetsPrivate(memberSocket), 10_000, 'the added member gets the project’s events');

    expect((await call(admin, 'DELETE', `/api/projects/${privateId}/members/${member.user.id}/`)).statusCode).toBe(204);
    await until(async () => !(await memberGetsPrivate(memberSocket)), 10_000, 'the removed member stops getting them');
    expect(await memberGetsPrivate(memberSocket)).toBe(false);

    // Project and status events follow the same rule; label events go to the whole company.
    const before = memberSocket.messages.length;
    await call(admin, 'PATCH', `/api/projects/${privateId}/`, { description: 'changed' });
    await call(admin, 'POST', '/api/labels/', { name: 'everyone' });
    await memberSocket.next((m) => m.type === 'label_updated', 5_000, before);
    await adminSocket.next((m) => m.type === 'project_updated');
    expect(memberSocket.messages.slice(before).map((m) => m.type)).toEqual(['label_updated']);
    adminSocket.close();
    memberSocket.close();
  });

  it('follows a change of company role without reconnecting: a member made guest stops getting the default project', async () => {
    const other = await addMember(ctx.app, admin);
    const socket = await TestSocket.open(url, { token: other.access });
    await socket.ofType('connection_established');
    const gets = async () => {
      const id = await createIn(undefined, 'general');
      const marker = json<{ id: number }>(await call(admin, 'POST', '/api/labels/', { name: `m${id}` })).id;
      await socket.next((m) => m.type === 'label_updated' && (m.label as { id: number }).id === marker);
      return socket.messages.some((m) => m.type === 'task_created' && (m.task as { id: number }).id === id);
    };
    expect(await gets()).toBe(true);
    expect(
      (await call(admin, 'PATCH', `/api/auth/company-users/${other.user.id}/`, { role: 'guest' })).statusCode,
    ).toBe(200);
    await until(async () => !(await gets()), 10_000, 'the guest stops getting the default project');
    expect(await gets()).toBe(false);
    socket.close();
  });

  it('tells a user at once which projects they stop or start seeing: project_deleted, project_updated', async () => {
    const user = await addMember(ctx.app, admin);
    const other = json<{ id: number; is_default: boolean }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Lose and gain' }),
    ).id;
    const generalId = json<{ results: Array<{ id: number; is_default: boolean }> }>(
      await ctx.app.inject({ method: 'GET', url: '/api/projects/?page_size=100', headers: bearer(admin.access) }),
    ).results.find((p) => p.is_default)?.id;
    const socket = await TestSocket.open(url, { token: user.access });
    await socket.ofType('connection_established');
    let from = socket.messages.length;
    const next = async (type: string, id: number) => {
      const message = await socket.next((m) => m.type === type && (m.project as { id: number }).id === id, 5_000, from);
      from = socket.messages.length;
      return message.project;
    };

    // A member added to a private project gains it; removed, loses it.
    await call(admin, 'PUT', `/api/projects/${privateId}/members/${user.user.id}/`, { role: 'viewer' });
    expect(await next('project_updated', privateId)).toMatchObject({
      id: privateId,
      is_private: true,
      my_role: 'viewer',
    });
    await call(admin, 'DELETE', `/api/projects/${privateId}/members/${user.user.id}/`);
    expect(await next('project_deleted', privateId)).toEqual({ id: privateId });

    // A public project made private while they are not its member; public again.
    await call(admin, 'PATCH', `/api/projects/${other}/`, { is_private: true });
    expect(await next('project_deleted', other)).toEqual({ id: other });
    await call(admin, 'PATCH', `/api/projects/${other}/`, { is_private: false });
    expect(await next('project_updated', other)).toMatchObject({ id: other, is_private: false, my_role: 'member' });

    // Made guest: every project they are not a member of goes, the default one too; made admin: all come.
    await call(admin, 'PATCH', `/api/auth/company-users/${user.user.id}/`, { role: 'guest' });
    await next('project_deleted', generalId as number);
    await call(admin, 'PATCH', `/api/auth/company-users/${user.user.id}/`, { role: 'admin' });
    expect(await next('project_updated', privateId)).toMatchObject({ id: privateId, my_role: 'manager' });
    // An admin made member stops seeing the private projects they are not in.
    await call(admin, 'PATCH', `/api/auth/company-users/${user.user.id}/`, { role: 'member' });
    expect(await next('project_deleted', privateId)).toEqual({ id: privateId });
    socket.close();
  });
});
