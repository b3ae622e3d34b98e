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
import { TokenService } from '../platform/auth.ts';
import { queryRows } from '../platform/db/index.ts';
import type { Statistics, Task } from './schemas.ts';

let ctx: TestContext;
let admin: Session;
let member: Session;

type Page = { count: number; next: string | null; previous: string | null; results: Task[] };

const get = (session: Session, url: string) => ctx.app.inject({ method: 'GET', url, headers: bearer(session.access) });

async function page(session: Session, query: string, path = '/api/tasks/'): Promise<Page> {
  const response = await get(session, `${path}?${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return json<Page>(response);
}
const titles = async (query: string, session = admin) => (await page(session, query)).results.map((t) => t.title);

/** Inserted directly, to control the server-set times; company and author are the admin's. */
async function insert(session: Session, rows: Array<Record<string, unknown>>) {
  const companyId = session.user.company.id;
  await ctx.db.tenant(companyId, async (tx) => {
    for (const row of rows) {
      await tx.execute(sql`
        insert into tasks (company_id, created_by, title, description, status, priority, due_date, assigned_to,
                           created_at, updated_at, completed_at)
        values (${companyId}, ${session.user.id}, ${row.title as string}, ${(row.description as string) ?? ''},
                ${(row.status as string) ?? 'todo'}, ${(row.priority as string) ?? 'medium'},
                ${(row.due_date as string) ?? null}::timestamptz, ${(row.assigned_to as number) ?? null},
                ${(row.created_at as string) ?? '2026-01-01T00:00:00Z'}::timestamptz,
                ${(row.updated_at as string) ?? (row.created_at as string) ?? '2026-01-01T00:00:00Z'}::timestamptz,
                ${(row.completed_at as string) ?? null}::timestamptz)`);
    }
  });
}

beforeAll(async () => {
  ctx = await createTestContext();
  admin = await registerCompany(ctx.app);
  member = await addMember(ctx.app, admin);
  await insert(admin, [
    {
      title: 'Alpha runner',
      description: 'plain',
      status: 'todo',
      priority: 'low',
      due_date: '2026-03-01T12:00:00Z',
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-02-05T00:00:00Z',
    },
    {
      title: 'Bravo',
      description: 'the runners were running fast',
      status: 'in_progress',
      priority: 'urgent',
      due_date: '2026-03-02T00:00:00Z',
      assigned_to: member.user.id,
      created_at: '2026-01-02T00:00:00Z',
      updated_at: '2026-02-01T00:00:00Z',
    },
    {
      title: 'Charlie',
      description: 'nothing to see',
      status: 'done',
      priority: 'high',
      assigned_to: member.user.id,
      created_at: '2026-01-03T00:00:00Z',
      updated_at: '2026-02-03T00:00:00Z',
      completed_at: '2026-01-04T00:00:00Z',
    },
    {
      title: 'Delta 100%_\\ sure',
      description: 'Straße über größer',
      status: 'todo',
      priority: 'medium',
      due_date: '2026-02-28T23:59:59Z',
      created_at: '2026-01-04T00:00:00Z',
      updated_at: '2026-02-04T00:00:00Z',
    },
  ]);
});
afterAll(() => ctx.close());

describe('list', () => {
  it('pages newest first with DRF’s envelope', async () => {
    const first = await page(admin, 'page_size=3');
    expect(first.count).toBe(4);
    expect(first.results.map((t) => t.title)).toEqual(['Delta 100%_\\ sure', 'Charlie', 'Bravo']);
    expect(first.previous).toBeNull();
    expect(first.next).toMatch(/page=2/);
    const second = await page(admin, 'page_size=3&page=2');
    expect(second.results.map((t) => t.title)).toEqual(['Alpha runner']);
    expect(second.next).toBeNull();
    const past = await get(admin, '/api/tasks/?page=3&page_size=3');
    expect(past.statusCode).toBe(404);
    expect(json(past)).toEqual({ detail: 'Invalid page.' });
  });

  it.each([
    ['status=done', ['Charlie']],
    ['status=todo', ['Delta 100%_\\ sure', 'Alpha runner']],
    ['priority=urgent', ['Bravo']],
    ['status=todo&priority=low', ['Alpha runner']],
    ['due_before=2026-03-01', ['Delta 100%_\\ sure']],
    ['due_before=2026-03-01T12:00:00Z', ['Delta 100%_\\ sure', 'Alpha runner']],
    ['due_after=2026-03-01T12:00:00Z', ['Bravo', 'Alpha runner']],
    ['due_after=2026-03-02', ['Bravo']],
    ['due_after=2026-03-01&due_before=2026-03-01T23:00:00%2B00:00', ['Alpha runner']],
    ['updated_after=2026-02-03T00:00:00Z', ['Delta 100%_\\ sure', 'Charlie', 'Alpha runner']],
    ['updated_after=2026-02-04', ['Delta 100%_\\ sure', 'Alpha runner']],
  ])('filters %s', async (query, expected) => {
    expect(await titles(query)).toEqual(expected);
  });

  it('filters by assignee and author', async () => {
    expect(await titles(`assigned_to=${member.user.id}`)).toEqual(['Charlie', 'Bravo']);
    expect(await titles(`created_by=${admin.user.id}`)).toHaveLength(4);
    expect(await titles(`created_by=${member.user.id}`)).toEqual([]);
  });

  it.each([
    ['ordering=created_at', ['Alpha runner', 'Bravo', 'Charlie', 'Delta 100%_\\ sure']],
    ['ordering=-created_at', ['Delta 100%_\\ sure', 'Charlie', 'Bravo', 'Alpha runner']],
    ['ordering=updated_at', ['Bravo', 'Charlie', 'Delta 100%_\\ sure', 'Alpha runner']],
    ['ordering=-updated_at', ['Alpha runner', 'Delta 100%_\\ sure', 'Charlie', 'Bravo']],
    ['ordering=due_date', ['Delta 100%_\\ sure', 'Alpha runner', 'Bravo', 'Charlie']],
    ['ordering=-due_date', ['Charlie', 'Bravo', 'Alpha runner', 'Delta 100%_\\ sure']],
    ['ordering=priority', ['Alpha runner', 'Delta 100%_\\ sure', 'Charlie', 'Bravo']],
    ['ordering=-priority', ['Bravo', 'Charlie', 'Delta 100%_\\ sure', 'Alpha runner']],
    ['ordering=-priority,created_at', ['Bravo', 'Charlie', 'Delta 100%_\\ sure', 'Alpha runner']],
  ])('orders by %s', async (query, expected) => {
    expect(await titles(query)).toEqual(expected);
  });

  it('searches word stems, title above description, in any language', async () => {
    expect(await titles('search=run')).toEqual(['Bravo']);
    expect(await titles('search=runs')).toEqual(['Bravo']);
    expect(await titles('search=runners')).toEqual(['Alpha runner', 'Bravo']);
    expect(await titles('search=RUNNER')).toEqual(['Alpha runner', 'Bravo']);
    expect(await titles('search=strasse')).toEqual([]);
    expect(await titles('search=Stra%C3%9Fe')).toEqual(['Delta 100%_\\ sure']);
    expect(await titles('search=runner%20-fast')).toEqual(['Alpha runner']);
    expect(await titles('search=%22running%20fast%22')).toEqual(['Bravo']);
    expect(await titles('search=runner&ordering=-created_at')).toEqual(['Bravo', 'Alpha runner']);
    expect(await titles('search=%20%20')).toHaveLength(4);
  });

  it('lets searches use the GIN index under row-level security (the match operator is leakproof)', async () => {
    const [row] = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ leakproof: boolean }>(
        tx,
        sql`select proleakproof as leakproof from pg_proc where oid = 'ts_match_vq(tsvector, tsquery)'::regprocedure`,
      ),
    );
    expect(row?.leakproof).toBe(true);
  });

  it('treats injection text and pattern characters in search as plain words', async () => {
    for (const text of ["'; drop table tasks; --", '%', '_', '%_\\', '\\', "' or '1'='1", ')(|&!:*<->']) {
      const response = await get(admin, `/api/tasks/?search=${encodeURIComponent(text)}`);
      expect(response.statusCode, text).toBe(200);
      expect(json<Page>(response).count, text).toBe(0);
    }
    expect(await titles('search=sure')).toEqual(['Delta 100%_\\ sure']);
    expect((await page(admin, '')).count).toBe(4);
  });

  it.each([
    ['status=finished', 'status'],
    ['priority=critical', 'priority'],
    ['assigned_to=abc', 'assigned_to'],
    ['assigned_to=-1', 'assigned_to'],
    ['created_by=1.5', 'created_by'],
    ['due_before=tomorrow', 'due_before'],
    ['due_after=2026-02-30', 'due_after'],
    ['updated_after=2026-01-01T24:00:00Z', 'updated_after'],
    ['ordering=title', 'ordering'],
    ['ordering=-password_hash', 'ordering'],
    [`ordering=${encodeURIComponent('created_at; drop table tasks; --')}`, 'ordering'],
    [`ordering=${encodeURIComponent('%_\\')}`, 'ordering'],
    ['ordering=created_at,,priority', 'ordering'],
    ['ordering=--created_at', 'ordering'],
  ])('refuses %s with 400 on %s', async (query, field) => {
    const response = await get(admin, `/api/tasks/?${query}`);
    expect(response.statusCode).toBe(400);
    const body = json<Record<string, string[]>>(response);
    expect(Object.keys(body)).toEqual([field]);
    expect(body[field]?.[0]).toEqual(expect.any(String));
  });

  it('ignores empty filters, as django-filter does', async () => {
    expect((await page(admin, 'status=&priority=&search=&ordering=&due_before=')).count).toBe(4);
  });

  it('reports every bad filter at once', async () => {
    const response = await get(admin, '/api/tasks/?due_before=x&ordering=x');
    const body = json<Record<string, string[]>>(response);
    expect(Object.keys(body).sort()).toEqual(['due_before', 'ordering']);
    // the schemas' own messages, not the validator's pattern text
    expect(body.due_before?.[0]).toMatch(/^Datetime has wrong format\. Use one of these formats/);
    expect(body.ordering?.[0]).toMatch(/^Invalid ordering\. Use created_at/);
  });

  it('still has its rows after the injection attempts', async () => {
    expect((await page(admin, '')).count).toBe(4);
  });
});

describe('my_tasks', () => {
  it('lists the tasks assigned to the caller, with the list’s filters', async () => {
    expect((await page(member, '', '/api/tasks/my_tasks/')).results.map((t) => t.title)).toEqual(['Charlie', 'Bravo']);
    expect((await page(member, 'status=done', '/api/tasks/my_tasks')).results.map((t) => t.title)).toEqual(['Charlie']);
    expect((await page(admin, '', '/api/tasks/my_tasks/')).count).toBe(0);
  });
});

describe('statistics', () => {
  it('computes the contract’s figures on a known data set', async () => {
    const boss = await registerCompany(ctx.app);
    const ann = await addMember(ctx.app, boss);
    const bob = await addMember(ctx.app, boss);
    const day = (offset: number) => {
      const d = new Date();
      d.setUTCHours(12, 0, 0, 0);
      d.setUTCDate(d.getUTCDate() - offset);
      return d.toISOString();
    };
    const hoursAfter = (iso: string, hours: number) => new Date(Date.parse(iso) + hours * 3_600_000).toISOString();
    await insert(boss, [
      {
        title: 'a',
        status: 'done',
        priority: 'low',
        assigned_to: ann.user.id,
        created_at: day(0),
        completed_at: hoursAfter(day(0), 1),
      },
      {
        title: 'b',
        status: 'done',
        priority: 'high',
        assigned_to: ann.user.id,
        created_at: day(3),
        completed_at: hoursAfter(day(3), 4),
      },
      {
        title: 'c',
        status: 'todo',
        priority: 'urgent',
        assigned_to: bob.user.id,
        created_at: day(3),
        due_date: day(1),
      },
      { title: 'd', status: 'in_progress', priority: 'medium', created_at: day(29), due_date: day(2) },
      {
        title: 'e',
        status: 'done',
        priority: 'medium',
        created_at: day(30),
        completed_at: hoursAfter(day(30), 2.5),
        due_date: day(5),
      },
      {
        title: 'f',
        status: 'todo',
        priority: 'medium',
        assigned_to: ann.user.id,
        created_at: day(45),
        due_date: day(-3),
      },
    ]);
    const response = await get(boss, '/api/tasks/statistics/');
    expect(response.statusCode).toBe(200);
    const stats = json<Statistics>(response);
    const perDay = new Map(stats.created_per_day.map((d) => [d.date, d.count]));
    expect(stats).toEqual({
      total: 6,
      by_status: { todo: 2, in_progress: 1, done: 3 },
      by_priority: { low: 1, medium: 3, high: 1, urgent: 1 },
      overdue: 2,
      completion_rate: 50,
      avg_completion_hours: 2.5,
      by_assignee: [
        { user_id: ann.user.id, username: ann.user.username, total: 3, done: 2 },
        { user_id: bob.user.id, username: bob.user.username, total: 1, done: 0 },
      ],
      unassigned: 2,
      created_per_day: expect.any(Array),
    });
    expect(stats.created_per_day).toHaveLength(30);
    expect(stats.created_per_day[29]?.date).toBe(day(0).slice(0, 10));
    expect(stats.created_per_day[0]?.date).toBe(day(29).slice(0, 10));
    expect(perDay.get(day(0).slice(0, 10))).toBe(1);
    expect(perDay.get(day(3).slice(0, 10))).toBe(2);
    expect(perDay.get(day(29).slice(0, 10))).toBe(1);
    expect(stats.created_per_day.reduce((sum, d) => sum + d.count, 0)).toBe(4);
  });

  it('rounds the completion rate to one decimal', async () => {
    const boss = await registerCompany(ctx.app);
    await insert(boss, [
      { title: 'x', status: 'done', completed_at: '2026-01-01T03:00:00Z' },
      { title: 'y' },
      { title: 'z' },
    ]);
    const stats = json<Statistics>(await get(boss, '/api/tasks/statistics/'));
    expect(stats.completion_rate).toBe(33.3);
    expect(stats.avg_completion_hours).toBe(3);
  });

  it('answers concurrent callers alike, and reflects a write made before the request', async () => {
    const boss = await registerCompany(ctx.app);
    await insert(boss, [{ title: 'one' }, { title: 'two', status: 'done', completed_at: '2026-01-01T01:00:00Z' }]);
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(boss, '/api/tasks/statistics/')));
    for (const answer of answers) expect(json<Statistics>(answer)).toMatchObject({ total: 2, completion_rate: 50 });
    await insert(boss, [{ title: 'three' }]);
    const after = await Promise.all([get(boss, '/api/tasks/statistics/'), get(boss, '/api/tasks/statistics/')]);
    expect(after.map((r) => json<Statistics>(r).total)).toEqual([3, 3]);
    const outsider = await registerCompany(ctx.app);
    expect(json<Statistics>(await get(outsider, '/api/tasks/statistics/')).total).toBe(0);
  });

  it('answers zeros and nulls for a company without tasks', async () => {
    const empty = await registerCompany(ctx.app);
    const stats = json<Statistics>(await get(empty, '/api/tasks/statistics'));
    expect(stats).toMatchObject({
      total: 0,
      by_status: { todo: 0, in_progress: 0, done: 0 },
      by_priority: { low: 0, medium: 0, high: 0, urgent: 0 },
      overdue: 0,
      completion_rate: 0,
      avg_completion_hours: null,
      by_assignee: [],
      unassigned: 0,
    });
    expect(stats.created_per_day).toHaveLength(30);
    expect(stats.created_per_day.every((d) => d.count === 0)).toBe(true);
  });
});

describe('the caller’s check in the single-statement reads', () => {
  it('refuses an inactive or removed caller as requireActor does, and reads nothing for them', async () => {
    const boss = await registerCompany(ctx.app);
    await insert(boss, [{ title: 'secret' }]);
    const [taskId] = (await page(boss, '')).results.map((t) => t.id);
    const quitter = await addMember(ctx.app, boss);
    const companyId = boss.user.company.id;
    await ctx.db.unsafeSystem((tx) =>
      tx.execute(sql`update users set is_active = false where company_id = ${companyId} and id = ${quitter.user.id}`),
    );
    // A valid token of a user the company does not have (removed since it was signed).
    const tokens = new TokenService(ctx.config.jwtSecret, 900, 900);
    const gone = { ...quitter, access: await tokens.signAccess({ companyId, userId: 2_000_000_000 }) };
    for (const session of [quitter, gone]) {
      const expected = await get(session, '/api/auth/profile/');
      expect(expected.statusCode).toBe(401);
      for (const url of [
        '/api/tasks/',
        '/api/tasks/?status=todo',
        '/api/tasks/?search=secret',
        '/api/tasks/my_tasks/',
        '/api/tasks/statistics/',
        `/api/tasks/${taskId}/`,
        '/api/tasks/external-tasks/',
      ]) {
        const response = await get(session, url);
        expect(response.statusCode, url).toBe(401);
        expect(response.json(), url).toEqual(expected.json());
        expect(response.body, url).not.toContain('secret');
      }
    }
    expect((await page(boss, '')).count).toBe(1);
  });
});
