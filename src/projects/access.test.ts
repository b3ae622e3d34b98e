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
import { queryRows } from '../platform/db/index.ts';

type CompanyRole = 'admin' | 'member' | 'guest';
type ProjectRole = 'none' | 'manager' | 'member' | 'viewer';

interface Case {
  companyRole: CompanyRole;
  projectRole: ProjectRole;
  isPrivate: boolean;
  archived: boolean;
}

/** The contract's words ("Access words used below"), written out here on their own. */
function expected(c: Case, action: 'read' | 'write' | 'manage'): number {
  const sees = c.companyRole === 'admin' || c.projectRole !== 'none' || (c.companyRole === 'member' && !c.isPrivate);
  if (!sees) return 404;
  const role = c.companyRole === 'admin' ? 'manager' : c.projectRole === 'none' ? 'member' : c.projectRole;
  if (action === 'read') return 200;
  if (action === 'write' && role === 'viewer') return 403;
  if (action === 'manage' && role !== 'manager') return 403;
  return c.archived ? 409 : 200;
}

/** A create's answer where the action is allowed. */
const createdOr = (status: number) => (status === 200 ? 201 : status);

const cases: Case[] = [];
for (const companyRole of ['admin', 'member', 'guest'] as const) {
  for (const projectRole of ['none', 'manager', 'member', 'viewer'] as const) {
    if (companyRole === 'guest' && projectRole === 'manager') continue; // refused: see below
    for (const isPrivate of [false, true]) {
      for (const archived of [false, true]) cases.push({ companyRole, projectRole, isPrivate, archived });
    }
  }
}
const label = (c: Case) =>
  `${c.companyRole} × ${c.projectRole} × ${c.isPrivate ? 'private' : 'public'}${c.archived ? ' × archived' : ''}`;

describe('project access', () => {
  let ctx: TestContext;
  let owner: Session;
  const people = {} as Record<CompanyRole, Session>;
  const projectOf = new Map<string, number>();
  const taskOf = new Map<string, number>();

  const call = (session: Session, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(session.access), payload });

  beforeAll(async () => {
    ctx = await createTestContext();
    owner = await registerCompany(ctx.app);
    people.admin = await addMember(ctx.app, owner, 'admin');
    people.member = await addMember(ctx.app, owner);
    people.guest = await addMember(ctx.app, owner, 'guest');
    for (const c of cases) {
      const created = await call(owner, 'POST', '/api/projects/', { name: label(c), is_private: c.isPrivate });
      expect(created.statusCode, created.body).toBe(201);
      const id = json<{ id: number }>(created).id;
      if (c.projectRole !== 'none') {
        const added = await call(owner, 'PUT', `/api/projects/${id}/members/${people[c.companyRole].user.id}/`, {
          role: c.projectRole,
        });
        expect(added.statusCode).toBe(200);
      }
      const task = await call(owner, 'POST', '/api/tasks/', { title: label(c), project: id });
      expect(task.statusCode, task.body).toBe(201);
      taskOf.set(label(c), json<{ id: number }>(task).id);
      if (c.archived)
        expect((await call(owner, 'PATCH', `/api/projects/${id}/`, { archived: true })).statusCode).toBe(200);
      projectOf.set(label(c), id);
    }
  });
  afterAll(() => ctx.close());

  it.each(cases.map((c) => [label(c), c] as const))('%s', async (_label, c) => {
    const session = people[c.companyRole];
    const id = projectOf.get(label(c)) as number;
    const read = await call(session, 'GET', `/api/projects/${id}/`);
    expect(read.statusCode, 'read').toBe(expected(c, 'read'));
    if (read.statusCode === 200) {
      const role = c.companyRole === 'admin' ? 'manager' : c.projectRole === 'none' ? 'member' : c.projectRole;
      expect(json(read)).toMatchObject({ id, my_role: role, is_private: c.isPrivate, archived: c.archived });
    }
    const listed = json<{ results: { id: number }[] }>(
      await call(session, 'GET', `/api/projects/?page_size=100${c.archived ? '&archived=true' : ''}`),
    );
    expect(
      listed.results.some((p) => p.id === id),
      'listed',
    ).toBe(expected(c, 'read') === 200);
    const members = await call(session, 'GET', `/api/projects/${id}/members/`);
    expect(members.statusCode, 'read members').toBe(expected(c, 'read'));
    const managed = await call(session, 'PATCH', `/api/projects/${id}/`, { description: 'changed' });
    expect(managed.statusCode, 'manage').toBe(expected(c, 'manage'));
    const member = await call(session, 'PUT', `/api/projects/${id}/members/${owner.user.id}/`, { role: 'manager' });
    expect(member.statusCode, 'manage members').toBe(expected(c, 'manage'));

    // Its tasks: read, write, and creating one there (a project named in a body and not seen is a 400 on it).
    const taskId = taskOf.get(label(c)) as number;
    expect((await call(session, 'GET', `/api/tasks/${taskId}/`)).statusCode, 'read task').toBe(expected(c, 'read'));
    const inList = json<{ results?: { id: number }[] }>(await call(session, 'GET', `/api/tasks/?project=${id}`));
    expect(inList.results?.some((t) => t.id === taskId) ?? false, 'task listed').toBe(expected(c, 'read') === 200);
    const written = await call(session, 'PATCH', `/api/tasks/${taskId}/`, { title: 'changed' });
    expect(written.statusCode, 'write task').toBe(expected(c, 'write'));
    const created = await call(session, 'POST', '/api/tasks/', { title: 'new', project: id });
    const creating = expected(c, 'write') === 404 ? 400 : createdOr(expected(c, 'write'));
    expect(created.statusCode, 'create task').toBe(creating);
    if (creating === 400) expect(Object.keys(json(created))).toEqual(['project']);

    // What is read about a task and its project beside the task itself follows the same rule.
    for (const path of [
      `/api/tasks/${taskId}/history/`,
      `/api/tasks/${taskId}/notifications/`,
      `/api/tasks/statistics/?project=${id}`,
      `/api/projects/${id}/statuses/`,
    ]) {
      expect((await call(session, 'GET', path)).statusCode, `read ${path}`).toBe(expected(c, 'read'));
    }
    const status = await call(session, 'POST', `/api/projects/${id}/statuses/`, { name: 'Extra', category: 'todo' });
    expect(status.statusCode, 'manage statuses').toBe(createdOr(expected(c, 'manage')));
    // Last, as it ends the task: deleting it is a write, and then its deletion is theirs to list.
    const deleted = await call(session, 'DELETE', `/api/tasks/${taskId}/`);
    expect(deleted.statusCode, 'delete task').toBe(expected(c, 'write') === 200 ? 204 : expected(c, 'write'));
    const since = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
    const gone = json<{ results: { id: number }[] }>(await call(session, 'GET', `/api/tasks/deleted/?since=${since}`));
    expect(
      gone.results.some((t) => t.id === taskId),
      'deletion listed',
    ).toBe(deleted.statusCode === 204);
  });

  it('hides a private project’s rows from a company member outside it, even from a query without a filter', async () => {
    const { member } = people;
    const auth = { companyId: member.user.company.id, userId: member.user.id };
    const hidden = cases
      .filter((c) => expected({ ...c, companyRole: 'member' }, 'read') === 404 && c.companyRole !== 'member')
      .map((c) => projectOf.get(label(c)) as number);
    expect(hidden.length).toBeGreaterThan(0);
    const seen = await ctx.db.tenant(auth, async (tx) => ({
      projects: await queryRows<{ id: number }>(tx, sql`select id from projects`),
      tasks: await queryRows<{ id: number }>(tx, sql`select project_id as id from tasks`),
      counters: await queryRows<{ id: number }>(tx, sql`select project_id as id from task_stats`),
      statuses: await queryRows<{ id: number }>(tx, sql`select project_id as id from statuses`),
      members: await queryRows<{ id: number }>(tx, sql`select project_id as id from project_members`),
    }));
    for (const rows of Object.values(seen)) {
      expect(rows.length).toBeGreaterThan(0);
      for (const hiddenId of hidden) expect(rows.map((r) => r.id)).not.toContain(hiddenId);
    }
    // The company alone (a job acting for it) still sees every project.
    const all = await ctx.db.tenant(auth.companyId, (tx) =>
      queryRows<{ id: number }>(tx, sql`select id from projects`),
    );
    for (const hiddenId of hidden) expect(all.map((r) => r.id)).toContain(hiddenId);
  });

  it('refuses a guest as a manager, a user of another company, and guests creating projects', async () => {
    const id = projectOf.values().next().value as number;
    const guestManager = await call(owner, 'PUT', `/api/projects/${id}/members/${people.guest.user.id}/`, {
      role: 'manager',
    });
    expect([guestManager.statusCode, Object.keys(json(guestManager))]).toEqual([400, ['role']]);
    const stranger = await registerCompany(ctx.app);
    const foreign = await call(owner, 'PUT', `/api/projects/${id}/members/${stranger.user.id}/`, { role: 'member' });
    expect(foreign.statusCode).toBe(400);
    expect((await call(stranger, 'GET', `/api/projects/${id}/`)).statusCode).toBe(404);
    expect((await call(people.guest, 'POST', '/api/projects/', { name: 'Mine' })).statusCode).toBe(403);
  });
});
