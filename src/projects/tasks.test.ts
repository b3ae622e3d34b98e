import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestContext,
  json,
  registerCompany,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { queryRows } from '../platform/db/index.ts';

interface Task {
  id: number;
  project: number;
  number: number;
  ref: string;
  state: number;
  status: string;
  labels: number[];
  completed_at: string | null;
}
interface Status {
  id: number;
  category: string;
}

/** Tasks in projects: numbers and refs, states, the new filters, archived projects, statistics per project. */
describe('tasks in projects', () => {
  let ctx: TestContext;
  let owner: Session;
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(owner.access), payload });
  const project = async (name: string, key: string) => {
    const id = json<{ id: number }>(await call('POST', '/api/projects/', { name, key })).id;
    const statuses = await ctx.db.tenant(owner.user.company.id, (tx) =>
      queryRows<Status>(tx, sql`select id, category from statuses where project_id = ${id} order by position`),
    );
    return { id, statuses };
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    owner = await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  it('numbers concurrent creates in one project without gaps or repeats, and never reuses a number', async () => {
    const web = await project('Web', 'WEB');
    const existing = 3;
    for (let i = 0; i < existing; i++) await call('POST', '/api/tasks/', { title: `before ${i}`, project: web.id });
    // 20 at once in it, while another project takes its own creates at the same time.
    const [created, elsewhere] = await Promise.all([
      Promise.all(
        Array.from({ length: 20 }, (_, i) => call('POST', '/api/tasks/', { title: `t${i}`, project: web.id })),
      ),
      project('Mobile', 'MOB').then((mobile) =>
        Promise.all(
          Array.from({ length: 5 }, (_, i) => call('POST', '/api/tasks/', { title: `m${i}`, project: mobile.id })),
        ),
      ),
    ]);
    for (const response of [...created, ...elsewhere]) expect(response.statusCode, response.body).toBe(201);
    const tasks = created.map((r) => json<Task>(r));
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    expect(tasks.map((t) => t.number).sort((a, b) => a - b)).toEqual(upTo(existing + 20).slice(existing));
    expect(elsewhere.map((r) => json<Task>(r).number).sort((a, b) => a - b)).toEqual(upTo(5));
    for (const task of tasks) expect(task.ref).toBe(`WEB-${task.number}`);
    const stored = await ctx.db.tenant(owner.user.company.id, (tx) =>
      queryRows<{ number: number }>(tx, sql`select number from tasks where project_id = ${web.id} order by number`),
    );
    expect(stored.map((r) => r.number)).toEqual(upTo(existing + 20));
    const last = tasks.find((t) => t.number === existing + 20) as Task;
    expect((await call('DELETE', `/api/tasks/${last.id}/`)).statusCode).toBe(204);
    expect(json<Task>(await call('POST', '/api/tasks/', { title: 'next', project: web.id })).number).toBe(
      existing + 21,
    );
    const byRef = json<{ results: Task[] }>(await call('GET', '/api/tasks/?ref=web-3')).results;
    expect(byRef.map((t) => t.ref)).toEqual(['WEB-3']);
    expect((await call('GET', '/api/tasks/?ref=nonsense')).statusCode).toBe(400);
    // A project with tasks keeps its key and cannot be deleted.
    expect((await call('PATCH', `/api/projects/${web.id}/`, { key: 'SITE' })).statusCode).toBe(400);
    expect((await call('DELETE', `/api/projects/${web.id}/`)).statusCode).toBe(409);
  });

  it('keeps status the category of the state, follows completed_at, and moves tasks between projects', async () => {
    const ops = await project('Operations', 'OPS');
    const [todo, doing, done] = ops.statuses as [Status, Status, Status];
    const task = json<Task>(await call('POST', '/api/tasks/', { title: 'deploy', project: ops.id, state: doing.id }));
    expect(task).toMatchObject({ state: doing.id, status: 'in_progress', ref: 'OPS-1' });
    const finished = json<Task>(await call('PATCH', `/api/tasks/${task.id}/`, { status: 'done' }));
    expect(finished).toMatchObject({ state: done.id, status: 'done', completed_at: expect.any(String) });
    const reopened = json<Task>(await call('PATCH', `/api/tasks/${task.id}/`, { state: todo.id }));
    expect(reopened).toMatchObject({ status: 'todo', completed_at: null });
    const disagree = await call('PATCH', `/api/tasks/${task.id}/`, { state: done.id, status: 'todo' });
    expect([disagree.statusCode, Object.keys(json(disagree))]).toEqual([400, ['state']]);
    const other = await project('Other', 'OTH');
    const foreign = await call('PATCH', `/api/tasks/${task.id}/`, { state: (other.statuses[0] as Status).id });
    expect([foreign.statusCode, Object.keys(json(foreign))]).toEqual([400, ['state']]);
    const moved = json<Task>(await call('PATCH', `/api/tasks/${task.id}/`, { project: other.id }));
    expect(moved).toMatchObject({ project: other.id, ref: 'OTH-1', state: (other.statuses[0] as Status).id });
    const unknown = await call('POST', '/api/tasks/', { title: 'x', project: 999_999 });
    expect([unknown.statusCode, Object.keys(json(unknown))]).toEqual([400, ['project']]);
    const byState = json<{ results: Task[] }>(
      await call('GET', `/api/tasks/?state=${(other.statuses[0] as Status).id}`),
    ).results;
    expect(byState.map((t) => t.id)).toEqual([task.id]);
  });

  it('leaves an archived project’s tasks out of lists and statistics unless ?project= names it', async () => {
    const old = await project('Old', 'OLD');
    const task = json<Task>(await call('POST', '/api/tasks/', { title: 'old work', project: old.id, status: 'done' }));
    const before = json<{ total: number }>(await call('GET', '/api/tasks/statistics/')).total;
    const listed = () =>
      call('GET', '/api/tasks/?page_size=100').then((r) => json<{ count: number; results: Task[] }>(r));
    const countBefore = (await listed()).count;
    expect((await call('PATCH', `/api/projects/${old.id}/`, { archived: true })).statusCode).toBe(200);
    expect((await listed()).results.map((t) => t.id)).not.toContain(task.id);
    expect((await listed()).count).toBe(countBefore - 1);
    expect(json<{ total: number }>(await call('GET', '/api/tasks/statistics/')).total).toBe(before - 1);
    const named = json<{ count: number; results: Task[] }>(await call('GET', `/api/tasks/?project=${old.id}`));
    expect([named.count, named.results.map((t) => t.id)]).toEqual([1, [task.id]]);
    const stats = json<{ total: number; by_state: Array<{ state: number; count: number }> }>(
      await call('GET', `/api/tasks/statistics/?project=${old.id}`),
    );
    expect(stats.total).toBe(1);
    expect(stats.by_state.map((s) => [s.state, s.count])).toEqual([
      [(old.statuses[0] as Status).id, 0],
      [(old.statuses[1] as Status).id, 0],
      [(old.statuses[2] as Status).id, 1],
    ]);
    expect((await call('PATCH', `/api/tasks/${task.id}/`, { title: 'changed' })).statusCode).toBe(409);
    expect((await call('POST', '/api/tasks/', { title: 'more', project: old.id })).statusCode).toBe(409);
    // Version 1's statistics have no by_state.
    expect(Object.keys(json(await call('GET', '/api/tasks/statistics/')))).not.toContain('by_state');
  });

  it('filters by labels, any of them', async () => {
    const [a, b] = await ctx.db.tenant(owner.user.company.id, (tx) =>
      queryRows<{ id: number }>(
        tx,
        sql`insert into labels (company_id, name, color) values (${owner.user.company.id}, 'bug', '#ff0000'),
            (${owner.user.company.id}, 'ui', '#00ff00') returning id`,
      ),
    );
    const ids = [a?.id as number, b?.id as number];
    const one = json<Task>(await call('POST', '/api/tasks/', { title: 'l1', labels: [ids[1], ids[0]] }));
    expect(one.labels).toEqual([...ids].sort((x, y) => x - y));
    const two = json<Task>(await call('POST', '/api/tasks/', { title: 'l2', labels: [ids[1]] }));
    await call('POST', '/api/tasks/', { title: 'l3' });
    const any = json<{ results: Task[] }>(await call('GET', `/api/tasks/?labels=${ids.join(',')}`)).results;
    expect(any.map((t) => t.id).sort()).toEqual([one.id, two.id].sort());
    const first = json<{ results: Task[] }>(await call('GET', `/api/tasks/?labels=${ids[0]}`)).results;
    expect(first.map((t) => t.id)).toEqual([one.id]);
    const cleared = json<Task>(await call('PATCH', `/api/tasks/${one.id}/`, { labels: [] }));
    expect(cleared.labels).toEqual([]);
    const bad = await call('POST', '/api/tasks/', { title: 'x', labels: [999_999] });
    expect([bad.statusCode, Object.keys(json(bad))]).toEqual([400, ['labels']]);
  });

  it('records a change of only version 2’s fields (state, labels, project) in the history, as any other', async () => {
    const flow = await project('Flow', 'FLO');
    const [todo] = flow.statuses as [Status];
    const extra = json<Status>(
      await call('POST', `/api/projects/${flow.id}/statuses/`, { name: 'Waiting', category: 'todo' }),
    );
    const label = json<{ id: number }>(await call('POST', '/api/labels/', { name: 'history label' })).id;
    const task = json<Task>(await call('POST', '/api/tasks/', { title: 'tracked', project: flow.id }));
    const last = async () =>
      json<{ results: Array<{ changes: Record<string, unknown> }> }>(
        await call('GET', `/api/tasks/${task.id}/history/`),
      ).results[0]?.changes;
    await call('PATCH', `/api/tasks/${task.id}/`, { state: extra.id });
    expect(await last()).toEqual({ state: [todo.id, extra.id] });
    await call('PATCH', `/api/tasks/${task.id}/`, { labels: [label] });
    expect(await last()).toEqual({ labels: [[], [label]] });
    const other = await project('Elsewhere', 'ELS');
    await call('PATCH', `/api/tasks/${task.id}/`, { project: other.id });
    expect(await last()).toEqual({
      project: [flow.id, other.id],
      ref: ['FLO-1', 'ELS-1'],
      state: [extra.id, (other.statuses[0] as Status).id],
    });
  });
});
