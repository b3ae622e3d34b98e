import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  createTestContext,
  json,
  type Method,
  registerCompany,
  requestsTo,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { queryRows } from '../platform/db/index.ts';
import type { Task } from './schemas.ts';

let ctx: TestContext;
let admin: Session;
let member: Session;
let outsider: Session;

beforeAll(async () => {
  ctx = await createTestContext();
  admin = await registerCompany(ctx.app);
  member = await addMember(ctx.app, admin);
  outsider = await registerCompany(ctx.app);
});
afterAll(() => ctx.close());

const { call, createTask } = requestsTo(() => ctx.app);

type Page<T = Task> = { count: number; next: string | null; previous: string | null; results: T[] };
const list = async (session: Session, query: string) => {
  const response = await call(session, 'GET', `/api/tasks/?${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return json<Page>(response);
};

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('create', () => {
  it('answers 201 with the task in the contract’s shape and defaults', async () => {
    const response = await call(admin, 'POST', '/api/tasks/', { title: 'Write the report' });
    expect(response.statusCode).toBe(201);
    const task = json<Task>(response);
    expect(task).toEqual({
      id: expect.any(Number),
      title: 'Write the report',
      description: '',
      status: 'todo',
      priority: 'medium',
      due_date: null,
      assigned_to: null,
      created_by: admin.user.id,
      company: admin.user.company.id,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
      completed_at: null,
      project: expect.any(Number),
      number: expect.any(Number),
      ref: `GEN-${task.number}`,
      state: expect.any(Number),
      labels: [],
      parent: null,
      blocked_by: [],
      blocking: [],
      is_blocked: false,
      subtasks: { total: 0, done: 0 },
      comment_count: 0,
      attachment_count: 0,
      is_watching: true,
    });
    expect(Object.keys(task)).toEqual([
      'id',
      'title',
      'description',
      'status',
      'priority',
      'due_date',
      'assigned_to',
      'created_by',
      'company',
      'created_at',
      'updated_at',
      'completed_at',
      'project',
      'number',
      'ref',
      'state',
      'labels',
      'parent',
      'blocked_by',
      'blocking',
      'is_blocked',
      'subtasks',
      'comment_count',
      'attachment_count',
      'is_watching',
    ]);
  });

  it('takes every field, and never created_by or company from the body', async () => {
    const task = await createTask(member, {
      title: 'Full',
      description: 'All of it',
      status: 'in_progress',
      priority: 'urgent',
      due_date: '2030-01-02T03:04:05+02:00',
      assigned_to: admin.user.id,
      created_by: outsider.user.id,
      company: outsider.user.company.id,
      id: 1,
    });
    expect(task).toMatchObject({
      title: 'Full',
      description: 'All of it',
      status: 'in_progress',
      priority: 'urgent',
      due_date: '2030-01-02T01:04:05.000Z',
      assigned_to: admin.user.id,
      created_by: member.user.id,
      company: admin.user.company.id,
    });
  });

  it('reads a due date without offset as UTC, and a bare date as midnight UTC', async () => {
    expect((await createTask(admin, { due_date: '2030-05-06T07:08' })).due_date).toBe('2030-05-06T07:08:00.000Z');
    expect((await createTask(admin, { due_date: '2030-05-06' })).due_date).toBe('2030-05-06T00:00:00.000Z');
    expect((await createTask(admin, { due_date: null })).due_date).toBeNull();
  });

  it('sets completed_at for a task created done', async () => {
    const task = await createTask(admin, { status: 'done' });
    expect(task.completed_at).toMatch(ISO);
  });

  it('accepts a title of 200 characters and a description of 10,000', async () => {
    const task = await createTask(admin, { title: 'x'.repeat(200), description: 'd'.repeat(10_000) });
    expect(task.title).toHaveLength(200);
  });

  it.each([
    [{}, { title: ['This field is required.'] }],
    [{ title: '' }, { title: ['This field may not be blank.'] }],
    [{ title: 'x'.repeat(201) }, { title: ['Ensure this field has no more than 200 characters.'] }],
    [
      { title: 'ok', description: 'd'.repeat(10_001) },
      { description: ['Ensure this field has no more than 10000 characters.'] },
    ],
    [{ title: 'ok', status: 'finished' }, { status: ['"finished" is not a valid choice.'] }],
    [{ title: 'ok', priority: 'critical' }, { priority: ['"critical" is not a valid choice.'] }],
    [{ title: 'ok', assigned_to: 'abc' }, { assigned_to: ['A valid integer is required.'] }],
    [{ title: 'ok', assigned_to: 1.5 }, { assigned_to: ['A valid integer is required.'] }],
    [{ title: { $ne: 1 } }, { title: ['Not a valid string.'] }],
    [{ title: 'ok', status: 'DONE' }, { status: ['"DONE" is not a valid choice.'] }],
  ])('refuses body %# with 400', async (payload, errors) => {
    const response = await call(admin, 'POST', '/api/tasks/', payload);
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual(errors);
  });

  it.each(['yesterday', '2030-13-01', '2030-02-30', '2030-02-30T10:00:00Z', '2030-01-01T25:00:00Z', 12])(
    'refuses the due date %j',
    async (due_date) => {
      const response = await call(admin, 'POST', '/api/tasks/', { title: 'ok', due_date });
      expect(response.statusCode).toBe(400);
      expect(Object.keys(json(response))).toEqual(['due_date']);
    },
  );

  it('refuses an assignee of another company, an unknown one and an inactive one, in DRF’s words', async () => {
    const inactive = await addMember(ctx.app, admin);
    await ctx.db.unsafeSystem((tx) =>
      tx.execute(sql`update users set is_active = false where id = ${inactive.user.id}`),
    );
    for (const id of [outsider.user.id, 2_000_000_000, inactive.user.id]) {
      const response = await call(admin, 'POST', '/api/tasks/', { title: 'ok', assigned_to: id });
      expect(response.statusCode).toBe(400);
      expect(json(response)).toEqual({ assigned_to: [`Invalid pk "${id}" - object does not exist.`] });
    }
  });

  it('is refused by the database itself for an assignee of another company', async () => {
    const attempt = ctx.db.tenant(admin.user.company.id, (tx) =>
      tx.execute(
        sql`insert into tasks (company_id, title, created_by, assigned_to) values (${admin.user.company.id}, 'x', ${admin.user.id}, ${outsider.user.id})`,
      ),
    );
    await expect(attempt).rejects.toThrow();
  });

  it('needs credentials', async () => {
    const response = await ctx.app.inject({ method: 'POST', url: '/api/tasks/', payload: { title: 'x' } });
    expect(response.statusCode).toBe(401);
  });
});

describe('read, update and delete one task', () => {
  it('answers the same task without the trailing slash', async () => {
    const task = await createTask(admin);
    const response = await call(member, 'GET', `/api/tasks/${task.id}`);
    expect(response.statusCode).toBe(200);
    // The member does not watch what the admin made.
    expect(json(response)).toEqual({ ...task, is_watching: false });
  });

  it('PATCH changes only the fields it names', async () => {
    const task = await createTask(admin, { description: 'keep me', priority: 'high' });
    const response = await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title: 'Renamed' });
    expect(response.statusCode).toBe(200);
    const changed = json<Task>(response);
    expect(changed).toMatchObject({ title: 'Renamed', description: 'keep me', priority: 'high' });
    expect(Date.parse(changed.updated_at)).toBeGreaterThanOrEqual(Date.parse(task.updated_at));
  });

  it('PUT needs a title', async () => {
    const task = await createTask(admin);
    const response = await call(admin, 'PUT', `/api/tasks/${task.id}/`, { description: 'no title' });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({ title: ['This field is required.'] });
    const put = await call(admin, 'PUT', `/api/tasks/${task.id}/`, { title: 'New', assigned_to: member.user.id });
    expect(put.statusCode).toBe(200);
    expect(json(put)).toMatchObject({ title: 'New', assigned_to: member.user.id });
  });

  it('sets completed_at when the status becomes done and clears it when it leaves done', async () => {
    const task = await createTask(admin);
    const done = json<Task>(await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { status: 'done' }));
    expect(done.completed_at).toMatch(ISO);
    const still = json<Task>(await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title: 'still done' }));
    expect(still.completed_at).toBe(done.completed_at);
    const again = json<Task>(await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { status: 'done' }));
    expect(again.completed_at).toBe(done.completed_at);
    const reopened = json<Task>(await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { status: 'in_progress' }));
    expect(reopened.completed_at).toBeNull();
  });

  it('unassigns with null and validates a new assignee', async () => {
    const task = await createTask(admin, { assigned_to: member.user.id });
    const cleared = await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { assigned_to: null });
    expect(json(cleared)).toMatchObject({ assigned_to: null });
    const bad = await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { assigned_to: outsider.user.id });
    expect(bad.statusCode).toBe(400);
    expect(json(bad)).toEqual({ assigned_to: [`Invalid pk "${outsider.user.id}" - object does not exist.`] });
  });

  it('deletes with 204, after which the task is 404', async () => {
    const task = await createTask(member);
    const response = await call(member, 'DELETE', `/api/tasks/${task.id}/`);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await call(member, 'GET', `/api/tasks/${task.id}/`)).statusCode).toBe(404);
    expect((await call(member, 'DELETE', `/api/tasks/${task.id}/`)).statusCode).toBe(404);
  });

  it.each(['abc', '-1', '0', '1.5', '2147483648', '99999999999999999999', '1e3', "1'%20or%20'1'='1"])(
    'answers 404 for the id %s on every method',
    async (id) => {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE'] as const) {
        const response = await call(
          admin,
          method,
          `/api/tasks/${id}/`,
          method.startsWith('P') ? { title: 'x' } : undefined,
        );
        expect(response.statusCode, `${method} ${id}`).toBe(404);
        expect(json(response)).toEqual({ detail: 'Not found.' });
      }
      expect((await call(admin, 'GET', `/api/tasks/${id}/history/`)).statusCode).toBe(404);
    },
  );
});

describe('another company’s task', () => {
  it('is 404 on every route and stays unchanged', async () => {
    const theirs = await createTask(outsider, { title: 'Theirs', assigned_to: outsider.user.id });
    const row = () => ctx.db.unsafeSystem((tx) => queryRows(tx, sql`select * from tasks where id = ${theirs.id}`));
    const before = await row();
    expect(before).toHaveLength(1);
    const attempts: Array<[Method, string, unknown?]> = [
      ['GET', `/api/tasks/${theirs.id}/`],
      ['PUT', `/api/tasks/${theirs.id}/`, { title: 'Hijacked' }],
      ['PATCH', `/api/tasks/${theirs.id}/`, { status: 'done' }],
      ['PATCH', `/api/tasks/${theirs.id}/`, { assigned_to: admin.user.id }],
      ['DELETE', `/api/tasks/${theirs.id}/`],
      ['GET', `/api/tasks/${theirs.id}/history/`],
    ];
    for (const caller of [admin, member]) {
      for (const [method, url, payload] of attempts) {
        const response = await call(caller, method, url, payload, { 'if-match': '*' });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
        expect(json(response)).toEqual({ detail: 'Not found.' });
      }
      for (const url of ['/api/tasks/', '/api/tasks/my_tasks/', `/api/tasks/?search=Theirs`]) {
        const page = json<Page>(await call(caller, 'GET', url));
        expect(page.results.map((t) => t.id)).not.toContain(theirs.id);
      }
    }
    expect(await row()).toEqual(before);
    const own = await call(outsider, 'GET', `/api/tasks/${theirs.id}/`);
    expect(json(own)).toEqual(theirs);
  });
});

describe('ETag and If-Match', () => {
  it('gives an ETag that changes with the task and refuses a stale If-Match with 412', async () => {
    const task = await createTask(admin);
    const read = await call(admin, 'GET', `/api/tasks/${task.id}/`);
    const etag = read.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await call(admin, 'GET', `/api/tasks/${task.id}/`)).headers.etag).toBe(etag);

    const first = await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title: 'First' }, { 'if-match': etag });
    expect(first.statusCode).toBe(200);
    const fresh = first.headers.etag as string;
    expect(fresh).not.toBe(etag);

    const stale = await call(member, 'PUT', `/api/tasks/${task.id}/`, { title: 'Second' }, { 'if-match': etag });
    expect(stale.statusCode).toBe(412);
    expect(json(stale)).toHaveProperty('detail');
    expect(json<Task>(await call(admin, 'GET', `/api/tasks/${task.id}/`)).title).toBe('First');

    let current = fresh;
    for (const header of [(t: string) => t, (t: string) => `W/${t}`, (t: string) => `"other", ${t}`, () => '*']) {
      const ok = await call(
        member,
        'PATCH',
        `/api/tasks/${task.id}/`,
        { priority: 'low' },
        { 'if-match': header(current) },
      );
      expect(ok.statusCode, header(current)).toBe(200);
      current = ok.headers.etag as string;
    }
  });

  it('writes unconditionally without If-Match', async () => {
    const task = await createTask(admin);
    await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title: 'One' });
    expect((await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title: 'Two' })).statusCode).toBe(200);
  });
});

describe('Idempotency-Key', () => {
  const countTitled = async (title: string) =>
    (await list(admin, `search=${encodeURIComponent(`"${title}"`)}&page_size=100`)).results.filter(
      (t) => t.title === title,
    ).length;

  it('answers a retry with the first answer and creates nothing', async () => {
    const key = `key-${Date.now()}`;
    const first = await call(admin, 'POST', '/api/tasks/', { title: 'Idempotent one' }, { 'idempotency-key': key });
    expect(first.statusCode).toBe(201);
    const again = await call(admin, 'POST', '/api/tasks/', { title: 'Idempotent one' }, { 'idempotency-key': key });
    expect(again.statusCode).toBe(201);
    expect(json(again)).toEqual(json(first));
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await countTitled('Idempotent one')).toBe(1);

    // the same key from another user is theirs alone
    const other = await call(member, 'POST', '/api/tasks/', { title: 'Idempotent one' }, { 'idempotency-key': key });
    expect(json<Task>(other).id).not.toBe(json<Task>(first).id);
  });

  it('creates one task for concurrent duplicates', async () => {
    const key = `race-${Date.now()}`;
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(admin, 'POST', '/api/tasks/', { title: 'Raced create' }, { 'idempotency-key': key }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(201));
    expect(new Set(responses.map((r) => json<Task>(r).id)).size).toBe(1);
    expect(await countTitled('Raced create')).toBe(1);
  });

  it('lets a retry after a refused request run afresh', async () => {
    const key = `fix-${Date.now()}`;
    const refused = await call(
      admin,
      'POST',
      '/api/tasks/',
      { title: 'Fixed', assigned_to: outsider.user.id },
      {
        'idempotency-key': key,
      },
    );
    expect(refused.statusCode).toBe(400);
    const fixed = await call(admin, 'POST', '/api/tasks/', { title: 'Fixed' }, { 'idempotency-key': key });
    expect(fixed.statusCode).toBe(201);
  });

  it('treats a key older than 24 hours as new', async () => {
    const key = `old-${Date.now()}`;
    const first = json<Task>(
      await call(admin, 'POST', '/api/tasks/', { title: 'Old key' }, { 'idempotency-key': key }),
    );
    await ctx.db.unsafeSystem((tx) =>
      tx.execute(sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = ${key}`),
    );
    const second = json<Task>(
      await call(admin, 'POST', '/api/tasks/', { title: 'Old key' }, { 'idempotency-key': key }),
    );
    expect(second.id).not.toBe(first.id);
  });

  it('refuses an empty or overlong key', async () => {
    for (const key of ['', 'k'.repeat(256)]) {
      const response = await call(admin, 'POST', '/api/tasks/', { title: 'x' }, { 'idempotency-key': key });
      expect(response.statusCode).toBe(400);
    }
  });
});

describe('history', () => {
  type Entry = {
    id: number;
    task: number;
    actor: number;
    action: string;
    changes: Record<string, unknown>;
    at: string;
  };
  const history = async (session: Session, id: number) => {
    const response = await call(session, 'GET', `/api/tasks/${id}/history/`);
    return { status: response.statusCode, page: response.statusCode === 200 ? json<Page<Entry>>(response) : undefined };
  };

  it('records who changed which field from what to what, newest first', async () => {
    const task = await createTask(admin, { title: 'Tracked', priority: 'low' });
    await call(member, 'PATCH', `/api/tasks/${task.id}/`, { status: 'done', priority: 'low' });
    await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title: 'Tracked' });
    await call(admin, 'PUT', `/api/tasks/${task.id}/`, { title: 'Renamed', assigned_to: member.user.id });

    const { status, page } = await history(member, task.id);
    expect(status).toBe(200);
    expect(page?.count).toBe(3);
    const [renamed, done, created] = page?.results ?? [];
    expect(renamed).toMatchObject({
      task: task.id,
      actor: admin.user.id,
      action: 'updated',
      changes: { title: ['Tracked', 'Renamed'], assigned_to: [null, member.user.id] },
      at: expect.stringMatching(ISO),
    });
    expect(Object.keys(renamed?.changes ?? {}).sort()).toEqual(['assigned_to', 'title']);
    expect(done).toMatchObject({ actor: member.user.id, action: 'updated' });
    // The state (version 2) follows the status: the project's first of each category.
    expect(done?.changes).toEqual({
      status: ['todo', 'done'],
      state: [task.state, expect.any(Number)],
      completed_at: [null, expect.stringMatching(ISO)],
    });
    expect(created).toMatchObject({ actor: admin.user.id, action: 'created' });
    expect(created?.changes).toMatchObject({
      title: [null, 'Tracked'],
      priority: [null, 'low'],
      status: [null, 'todo'],
    });
  });

  it('answers and records a creation written in one statement as one written step by step', async () => {
    // An Idempotency-Key takes the step-by-step path; without one, this body is written in one statement.
    const body = {
      title: 'Both ways',
      description: 'Same',
      status: 'done',
      priority: 'urgent',
      due_date: '2027-03-01T10:20:30.456Z',
      assigned_to: member.user.id,
      labels: [],
      blocked_by: [],
    };
    const made = async (headers: Record<string, string>) => {
      const response = await call(member, 'POST', '/api/tasks/', body, headers);
      expect(response.statusCode, response.body).toBe(201);
      const task = json<Task>(response);
      const entries = (await history(member, task.id)).page?.results ?? [];
      return { task, entries };
    };
    const sole = await made({});
    const stepwise = await made({ 'idempotency-key': `both-${Date.now()}` });
    const own = ({ id, number, ref, created_at, updated_at, completed_at, ...rest }: Task) => ({
      rest,
      instants: [created_at, updated_at, completed_at].map((at) => ISO.test(at ?? '')),
    });
    expect(own(sole.task)).toEqual(own(stepwise.task));
    expect(sole.task.is_watching).toBe(true);
    expect(sole.entries).toHaveLength(1);
    const [soleEntry] = sole.entries;
    const [stepwiseEntry] = stepwise.entries;
    expect(stepwiseEntry?.changes).toMatchObject({ completed_at: [null, stepwise.task.completed_at] });
    expect(soleEntry?.changes).toEqual({
      ...stepwiseEntry?.changes,
      ref: [null, sole.task.ref],
      completed_at: [null, sole.task.completed_at],
    });
  });

  it('pages the history', async () => {
    const task = await createTask(admin);
    for (const title of ['b', 'c', 'd']) await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title });
    const response = await call(admin, 'GET', `/api/tasks/${task.id}/history/?page_size=3&page=2`);
    expect(response.statusCode).toBe(200);
    const page = json<Page<Entry>>(response);
    expect(page.count).toBe(4);
    expect(page.results.map((e) => e.action)).toEqual(['created']);
  });

  it('keeps a deleted task’s history for the company’s admins only', async () => {
    const task = await createTask(member, { title: 'Short-lived' });
    await call(member, 'DELETE', `/api/tasks/${task.id}/`);
    expect((await history(member, task.id)).status).toBe(404);
    const { status, page } = await history(admin, task.id);
    expect(status).toBe(200);
    expect(page?.results[0]).toMatchObject({
      action: 'deleted',
      actor: member.user.id,
      changes: { title: ['Short-lived', null] },
    });
    expect(page?.results.map((e) => e.action)).toEqual(['deleted', 'created']);
    // never existed, or another company's admin asking
    expect((await history(admin, 2_000_000_000)).status).toBe(404);
    expect((await history(outsider, task.id)).status).toBe(404);
  });

  it('is written in the same transaction as the change: a refused change leaves none', async () => {
    const task = await createTask(admin);
    await call(admin, 'PATCH', `/api/tasks/${task.id}/`, { title: 'ok', assigned_to: outsider.user.id });
    expect((await history(admin, task.id)).page?.count).toBe(1);
  });
});

describe('kept counts', () => {
  const counted = (session: Session) =>
    ctx.db.tenant(session.user.company.id, (tx) =>
      queryRows<{ status: string; n: number }>(
        tx,
        sql`select status, count(*)::int as n from tasks where company_id = ${session.user.company.id} group by status`,
      ),
    );

  it('match the rows after creates, status changes in both directions at once, and deletes', async () => {
    const created = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        createTask(i % 2 === 0 ? admin : member, { status: i % 3 === 0 ? 'done' : 'todo' }),
      ),
    );
    const flips = await Promise.all(
      created.map((task) =>
        call(admin, 'PATCH', `/api/tasks/${task.id}/`, { status: task.status === 'done' ? 'todo' : 'done' }),
      ),
    );
    expect(flips.map((r) => r.statusCode)).toEqual(Array(12).fill(200));
    await Promise.all(created.slice(0, 4).map((task) => call(member, 'DELETE', `/api/tasks/${task.id}/`)));

    for (const session of [admin, outsider]) {
      const rows = await counted(session);
      const total = rows.reduce((sum, r) => sum + r.n, 0);
      expect((await list(session, 'page_size=1')).count).toBe(total);
      for (const status of ['todo', 'in_progress', 'done']) {
        const expected = rows.find((r) => r.status === status)?.n ?? 0;
        expect((await list(session, `status=${status}&page_size=1`)).count, status).toBe(expected);
      }
    }
  });
});
