import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../../test/databases.ts';
import {
  addMember,
  bearer,
  createTestContext,
  json,
  registerCompany,
  requestsTo,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { Random, seedFrom } from '../../test/random.ts';
import { directStatistics, migrationsUpTo } from '../../test/statistics.ts';
import { type Database, openPostgres, queryRows } from '../platform/db/index.ts';
import type { TaskStatus } from '../platform/db/schema.ts';
import { unsafeCompactCounters } from './counters.ts';
import { ExternalFeed, MemoryFeedCache } from './external.ts';
import type { Statistics, Task } from './schemas.ts';
import { TasksService } from './service.ts';

const STATUSES = ['todo', 'in_progress', 'done'] as const;
const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('statistics kept by triggers', () => {
  let ctx: TestContext;
  const seed = seedFrom('STATS_SEED', 20261128);
  const random = new Random(seed);

  interface Company {
    admin: Session;
    people: Session[];
  }
  let companies: Company[];

  beforeAll(async () => {
    ctx = await createTestContext();
    companies = [];
    for (let i = 0; i < 2; i++) {
      const admin = await registerCompany(ctx.app);
      companies.push({ admin, people: [admin, await addMember(ctx.app, admin), await addMember(ctx.app, admin)] });
    }
  });
  afterAll(() => ctx.close());

  /** Due dates on every side of "now" that overdue distinguishes: none, days before and after, earlier and later today. */
  function dueDate(): string | null {
    const now = Date.now();
    const today = now - (now % DAY);
    switch (Math.floor(random.next() * 6)) {
      case 0:
        return null;
      case 1: // earlier today, at least a minute ago
        return new Date(today + random.next() * Math.max(0, now - today - 60_000)).toISOString();
      case 2: // later today, or tomorrow just after midnight
        return new Date(now + 60_000 + random.next() * Math.max(0, today + DAY - now)).toISOString();
      case 3:
        return new Date(today - Math.ceil(random.next() * 20) * DAY + random.next() * DAY).toISOString();
      default:
        return new Date(today + Math.ceil(random.next() * 20) * DAY + random.next() * DAY).toISOString();
    }
  }

  const { call } = requestsTo(() => ctx.app);

  const statistics = async (session: Session) => {
    const response = await ctx.app.inject({
      method: 'GET',
      url: '/api/tasks/statistics/',
      headers: bearer(session.access),
    });
    expect(response.statusCode, response.body).toBe(200);
    return json<Statistics>(response);
  };

  async function expectAgreement(step: string) {
    for (const { admin } of companies) {
      const kept = await statistics(admin);
      const direct = await ctx.db.tenant(admin.user.company.id, (tx) => directStatistics(tx, admin.user.company.id));
      expect(kept, `${step}, company ${admin.user.company.id}, STATS_SEED=${seed}`).toEqual(direct);
    }
  }

  /** Rows written by the database in one statement, with times the API never sets (old creations, completions). */
  async function insertDirectly(company: Company, count: number) {
    const companyId = company.admin.user.company.id;
    const rows = Array.from({ length: count }, (_, i) => {
      const status = random.pick(STATUSES);
      const created = Date.now() - random.next() * 45 * DAY;
      const completed = status === 'done' && random.next() < 0.9 ? created + random.next() * 10 * DAY : null;
      return sql`(${companyId}::int, ${random.pick(company.people).user.id}::int, ${`direct ${i}`}, ${status}, ${random.pick(PRIORITIES)},
        ${dueDate()}::timestamptz, ${random.next() < 0.25 ? null : random.pick(company.people).user.id}::int,
        ${new Date(created).toISOString()}::timestamptz, ${completed === null ? null : new Date(completed).toISOString()}::timestamptz)`;
    });
    await ctx.db.tenant(companyId, (tx) =>
      tx.execute(sql`
        insert into tasks (company_id, created_by, title, status, priority, due_date, assigned_to, created_at, completed_at)
        values ${sql.join(rows, sql`, `)}`),
    );
  }

  async function randomRequest(company: Company, ids: number[]) {
    const actor = random.pick(company.people);
    const choice = random.next();
    if (choice < 0.35 || ids.length === 0) {
      const body: Record<string, unknown> = { title: 'made by the API', status: random.pick(STATUSES) };
      if (random.next() < 0.7) body.priority = random.pick(PRIORITIES);
      if (random.next() < 0.7) body.due_date = dueDate();
      if (random.next() < 0.7) body.assigned_to = random.next() < 0.2 ? null : random.pick(company.people).user.id;
      const response = await call(actor, 'POST', '/api/tasks/', body);
      expect(response.statusCode, response.body).toBe(201);
      ids.push(json<Task>(response).id);
      return;
    }
    const id = random.pick(ids);
    if (choice < 0.85) {
      const patch: Record<string, unknown> = {};
      if (random.next() < 0.5) patch.status = random.pick(STATUSES);
      if (random.next() < 0.4) patch.priority = random.pick(PRIORITIES);
      if (random.next() < 0.3) patch.assigned_to = random.next() < 0.3 ? null : random.pick(company.people).user.id;
      if (random.next() < 0.3) patch.due_date = dueDate();
      if (random.next() < 0.2) patch.title = 'renamed';
      const method = random.next() < 0.2 ? 'PUT' : 'PATCH';
      if (method === 'PUT') patch.title = 'replaced';
      const response = await call(actor, method, `/api/tasks/${id}/`, patch);
      // a concurrent request of this batch may have deleted it
      expect([200, 404], response.body).toContain(response.statusCode);
      return;
    }
    ids.splice(ids.indexOf(id), 1);
    const response = await call(actor, 'DELETE', `/api/tasks/${id}/`);
    expect([204, 404], response.body).toContain(response.statusCode);
  }

  it('equal the plain aggregates over tasks after a random mix of writes in two companies', async () => {
    await expectAgreement('no tasks yet');
    for (const company of companies) await insertDirectly(company, 40);
    await expectAgreement('after inserts of many rows in one statement');

    const ids = new Map<Company, number[]>();
    for (const company of companies) {
      const rows = await ctx.db.tenant(company.admin.user.company.id, (tx) =>
        queryRows<{ id: number }>(tx, sql`select id from tasks where company_id = ${company.admin.user.company.id}`),
      );
      ids.set(
        company,
        rows.map((r) => r.id),
      );
    }
    // Concurrent requests: on PostgreSQL they run on several connections, so several shard rows.
    for (let batch = 0; batch < 25; batch++) {
      await Promise.all(
        Array.from({ length: 8 }, () => {
          const company = random.pick(companies);
          return randomRequest(company, ids.get(company) ?? []);
        }),
      );
      if (batch % 8 === 7) await expectAgreement(`after ${batch + 1} batches of requests`);
    }

    // Statements that change many rows at once, in ways the API does not.
    for (const { admin } of companies) {
      const companyId = admin.user.company.id;
      await ctx.db.tenant(companyId, (tx) =>
        tx.execute(sql`
          update tasks set
            status = case when status = 'done' then 'todo' else 'done' end,
            completed_at = case when status = 'done' then null else now() - interval '90 minutes' end,
            priority = case when id % 2 = 0 then 'urgent' else priority end,
            due_date = case when id % 5 = 0 then null else due_date - interval '1 day' end
          where company_id = ${companyId} and id % 3 = 0`),
      );
      await ctx.db.tenant(companyId, (tx) =>
        tx.execute(
          sql`update tasks set created_at = created_at - interval '2 days' where company_id = ${companyId} and id % 4 = 1`,
        ),
      );
      // Statements that change one counted column each, so every counter the trigger may skip is
      // checked against a change that must reach it (and only it).
      const people = companies.find((c) => c.admin === admin)?.people.map((p) => p.user.id) ?? [];
      const each = [
        sql`update tasks set status = case when status = 'done' then 'in_progress' else 'done' end,
                   completed_at = case when status = 'done' then null else now() - interval '1 hour' end
            where company_id = ${companyId} and id % 4 = 2`,
        sql`update tasks set assigned_to = case when assigned_to is null then ${people[1] ?? null}::int
                                                when id % 2 = 0 then null else ${people[2] ?? null}::int end
            where company_id = ${companyId} and id % 3 = 1`,
        sql`update tasks set priority = case priority when 'low' then 'high' else 'low' end
            where company_id = ${companyId} and id % 5 = 3`,
        sql`update tasks set due_date = now() - interval '3 days' where company_id = ${companyId} and id % 6 = 5`,
        sql`update tasks set title = title || '!' where company_id = ${companyId} and id % 2 = 0`,
      ];
      for (const statement of each) {
        await ctx.db.tenant(companyId, (tx) => tx.execute(statement));
        await expectAgreement('after a statement changing one counted column');
      }
      await ctx.db.tenant(companyId, (tx) =>
        tx.execute(sql`
          update tasks set completed_at = completed_at - interval '3 hours'
          where company_id = ${companyId} and status = 'done' and completed_at is not null and id % 2 = 1`),
      );
      await ctx.db.tenant(companyId, (tx) =>
        tx.execute(sql`
          update tasks set due_date = coalesce(due_date, now()) - interval '5 days'
          where company_id = ${companyId} and status = 'done'`),
      );
      await ctx.db.tenant(companyId, (tx) =>
        tx.execute(sql`delete from tasks where company_id = ${companyId} and id % 7 = 0`),
      );
    }
    await expectAgreement('after updates and deletes of many rows in one statement');
    // the concurrent requests went through several connections, hence several shard rows
    const shards = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ n: number }>(tx, sql`select count(distinct shard)::int as n from task_stats`),
    );
    expect(shards[0]?.n).toBeGreaterThan(1);

    // Folded as the hourly maintenance does: the same figures from fewer rows, and the triggers carry
    // on. Rows on old days and other shards that cancel out stand for the ones time leaves behind.
    await ctx.db.unsafeSystem(async (tx) => {
      for (const { admin } of companies) {
        const companyId = admin.user.company.id;
        await tx.execute(sql`
          insert into task_days (company_id, project_id, day, shard, created, open_due)
          select ${companyId}, p.id, (now() at time zone 'UTC')::date - d, s, 3 * sign, 2 * sign
          from projects p, (values (60, 3, 1), (60, 5, -1), (45, 7, 1), (45, 7 + 1, -1)) v(d, s, sign)
          where p.company_id = ${companyId} and p.is_default
          on conflict (company_id, project_id, day, shard) do update
            set created = task_days.created + excluded.created, open_due = task_days.open_due + excluded.open_due`);
        // Added to what a writer may already have on that shard, so that the pair always cancels out.
        await tx.execute(sql`
          insert into task_stats (company_id, project_id, shard, todo, low) select ${companyId}, p.id, s, n, n
          from projects p, (values (11, 1), (12, -1)) v(s, n) where p.company_id = ${companyId} and p.is_default
          on conflict (company_id, project_id, shard) do update
            set todo = task_stats.todo + excluded.todo, low = task_stats.low + excluded.low`);
      }
    });
    await expectAgreement('with counter rows that cancel out');
    const before = await counterRows(ctx.db);
    const compacted = await ctx.db.unsafeSystem(unsafeCompactCounters);
    expect(compacted).toBeGreaterThan(0);
    const after = await counterRows(ctx.db);
    expect(after).toBeLessThan(before);
    await expectAgreement('after the counters are compacted');
    const leftover = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ n: number }>(
        tx,
        sql`select (select count(*) from task_stats where shard <> 0) + (select count(*) from task_days
              where day <> '-infinity' and day < (now() at time zone 'UTC')::date - 31)::int as n`,
      ),
    );
    expect(Number(leftover[0]?.n)).toBe(0);
    for (let batch = 0; batch < 4; batch++) {
      await Promise.all(
        Array.from({ length: 8 }, () => {
          const company = random.pick(companies);
          return randomRequest(company, ids.get(company) ?? []);
        }),
      );
    }
    await expectAgreement('after more requests on the compacted counters');
  });
});

async function counterRows(db: Database): Promise<number> {
  const [row] = await db.unsafeSystem((tx) =>
    queryRows<{ n: number }>(
      tx,
      sql`select ((select count(*) from task_stats) + (select count(*) from task_days)
               + (select count(*) from task_assignee_counts) + (select count(*) from task_state_counts))::int as n`,
    ),
  );
  return row?.n ?? 0;
}

describe('the statistics migration', () => {
  let db: Database;
  let drop = async () => {};
  let migrateTo: (folder: string) => Promise<void>;

  beforeAll(async () => {
    const created = await createServerDatabase({ empty: true });
    drop = created.drop;
    db = openPostgres({ url: created.url });
    migrateTo = (folder) => migratePg(drizzlePg(db.client), { migrationsFolder: folder });
  });
  afterAll(async () => {
    await db.close();
    await drop();
  });

  it('counts the tasks that exist before it runs, and the triggers carry on from there', async () => {
    await migrateTo(migrationsUpTo('0011_task_statistics'));
    const before = await db.unsafeSystem(async (tx) => {
      const ids: Array<{ companyId: number; userId: number }> = [];
      for (const name of ['Before A', 'Before B']) {
        const [company] = await queryRows<{ id: number }>(
          tx,
          sql`insert into companies (name) values (${name}) returning id`,
        );
        const companyId = company?.id as number;
        const users = await queryRows<{ id: number }>(
          tx,
          sql`insert into users (company_id, username, email, password_hash)
              select ${companyId}, ${name} || ' ' || g, g || '@' || ${companyId} || '.example.com', 'x'
              from generate_series(1, 3) g returning id`,
        );
        await tx.execute(sql`
          insert into tasks (company_id, created_by, title, status, priority, due_date, assigned_to, created_at, completed_at)
          select ${companyId}, ${users[0]?.id as number}, 'old ' || g,
                 (array['todo', 'in_progress', 'done'])[1 + g % 3],
                 (array['low', 'medium', 'high', 'urgent'])[1 + g % 4],
                 case when g % 5 = 0 then null else now() + (g % 11 - 6) * interval '1 day' + (g % 7) * interval '1 hour' end,
                 case when g % 4 = 0 then null else (array[${sql.join(
                   users.map((u) => sql`${u.id}::int`),
                   sql`, `,
                 )}])[1 + g % 3] end,
                 now() - (g % 40) * interval '1 day' - g * interval '1 minute',
                 case when g % 3 = 2 then now() - (g % 40) * interval '1 day' + g * interval '7 minutes' end
          from generate_series(1, 200) g`);
        ids.push({ companyId, userId: users[0]?.id as number });
      }
      return ids;
    });
    await db.migrate();
    const service = new TasksService(
      db,
      new ExternalFeed({ url: 'http://127.0.0.1:9/', timeoutMs: 1, cache: new MemoryFeedCache() }),
    );
    for (const { companyId, userId } of before) {
      const kept = await service.statistics({ companyId, userId });
      expect(kept.total).toBe(200);
      expect(kept).toEqual(await db.tenant(companyId, (tx) => directStatistics(tx, companyId)));
    }
    // The triggers carry on from there, the list's counts (all, and by status) included.
    const countsByStatus = (companyId: number) =>
      db.tenant(companyId, (tx) =>
        queryRows<{ status: TaskStatus; counted: number }>(
          tx,
          sql`select status, (select count(*)::int from tasks t where t.company_id = ${companyId} and t.status = s.status) as counted
              from unnest(array['todo', 'in_progress', 'done']) as s(status)`,
        ),
      );
    const listed = async (auth: { companyId: number; userId: number }, status?: TaskStatus) =>
      (await service.listTasks(auth, { status }, { page: 1, size: 1, offset: 0 })).count;
    for (const { companyId, userId } of before) {
      await db.tenant(companyId, async (tx) => {
        await tx.execute(
          sql`update tasks set status = 'done', completed_at = now() where company_id = ${companyId} and id % 5 = 0`,
        );
        await tx.execute(sql`delete from tasks where company_id = ${companyId} and id % 7 = 0`);
        await tx.execute(
          sql`insert into tasks (company_id, created_by, title, status) values (${companyId}, ${userId}, 'new', 'in_progress')`,
        );
      });
      const kept = await service.statistics({ companyId, userId });
      expect(kept).toEqual(await db.tenant(companyId, (tx) => directStatistics(tx, companyId)));
      const counts = await countsByStatus(companyId);
      for (const row of counts) expect(await listed({ companyId, userId }, row.status), row.status).toBe(row.counted);
      expect(await listed({ companyId, userId })).toBe(counts.reduce((sum, row) => sum + row.counted, 0));
    }
  });
});
