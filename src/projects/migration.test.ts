import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../../test/databases.ts';
import { directStatistics, migrationsUpTo } from '../../test/statistics.ts';
import { type Database, openPostgres, queryRows } from '../platform/db/index.ts';
import { ExternalFeed, MemoryFeedCache } from '../tasks/external.ts';
import type { Statistics } from '../tasks/schemas.ts';
import { TasksService } from '../tasks/service.ts';

/**
 * A database of version 1 full of data (migrated up to 0014, the last migration before projects),
 * then migrated to the end: every company has its default project with the default statuses, and
 * every task is in it with a number in creation order and the state of its status, with the
 * counters and statistics unchanged.
 */
describe('the projects migration', () => {
  let db: Database;
  let drop = async () => {};

  beforeAll(async () => {
    const created = await createServerDatabase({ empty: true });
    drop = created.drop;
    db = openPostgres({ url: created.url });
  });
  afterAll(async () => {
    await db.close();
    await drop();
  });

  it('moves every task of version 1 into its company’s default project, and counts on from there', async () => {
    await migratePg(drizzlePg(db.client), { migrationsFolder: migrationsUpTo('0014_task_counts_into_task_stats') });
    const companies = await db.unsafeSystem(async (tx) => {
      const made: Array<{ companyId: number; userId: number; tasks: number }> = [];
      for (const [index, name] of ['Old A', 'Old B', 'Old C (empty)'].entries()) {
        const [company] = await queryRows<{ id: number }>(
          tx,
          sql`insert into companies (name) values (${name}) returning id`,
        );
        const companyId = company?.id as number;
        const users = await queryRows<{ id: number }>(
          tx,
          sql`insert into users (company_id, username, email, password_hash, role)
              select ${companyId}, ${name} || ' ' || g, g || '@' || ${companyId} || '.example.com', 'x',
                     case when g = 1 then 'admin' else 'member' end
              from generate_series(1, 3) g returning id`,
        );
        const count = index === 2 ? 0 : 150 + index * 40;
        // Created out of id order (created_at descends as g grows, with ties), so numbering must sort.
        await tx.execute(sql`
          insert into tasks (company_id, created_by, title, status, priority, due_date, assigned_to, created_at, completed_at)
          select ${companyId}, ${users[0]?.id as number}, 'old ' || g,
                 (array['todo', 'in_progress', 'done'])[1 + g % 3],
                 (array['low', 'medium', 'high', 'urgent'])[1 + g % 4],
                 case when g % 5 = 0 then null else now() + (g % 11 - 6) * interval '1 day' end,
                 case when g % 4 = 0 then null else (array[${sql.join(
                   users.map((u) => sql`${u.id}::int`),
                   sql`, `,
                 )}])[1 + g % 3] end,
                 date_trunc('hour', now()) - (g / 2) * interval '3 hours',
                 case when g % 3 = 2 then now() - (g % 40) * interval '1 day' + g * interval '7 minutes' end
          from generate_series(1, ${count}) g`);
        made.push({ companyId, userId: users[0]?.id as number, tasks: count });
      }
      return made;
    });
    const before = new Map<number, Statistics>();
    for (const { companyId } of companies) {
      before.set(companyId, await db.tenant(companyId, (tx) => directStatistics(tx, companyId)));
    }

    await db.migrate();

    const service = new TasksService(
      db,
      new ExternalFeed({ url: 'http://127.0.0.1:9/', timeoutMs: 1, cache: new MemoryFeedCache() }),
    );
    for (const { companyId, userId, tasks } of companies) {
      const projects = await db.unsafeSystem((tx) =>
        queryRows<Record<string, unknown>>(
          tx,
          sql`select id, key, name, is_default, is_private, archived, next_number from projects
              where company_id = ${companyId}`,
        ),
      );
      expect(projects).toEqual([
        {
          id: expect.any(Number),
          key: 'GEN',
          name: 'General',
          is_default: true,
          is_private: false,
          archived: false,
          next_number: tasks + 1,
        },
      ]);
      const projectId = projects[0]?.id as number;
      const statuses = await db.unsafeSystem((tx) =>
        queryRows<Record<string, unknown>>(
          tx,
          sql`select name, category, position from statuses where company_id = ${companyId} and project_id = ${projectId}
              order by position`,
        ),
      );
      expect(statuses).toEqual([
        { name: 'To do', category: 'todo', position: 0 },
        { name: 'In progress', category: 'in_progress', position: 1 },
        { name: 'Done', category: 'done', position: 2 },
      ]);
      // Every task: in the default project, numbered 1..n by (created_at, id), its state of its status.
      const wrong = await db.unsafeSystem((tx) =>
        queryRows<{ id: number }>(
          tx,
          sql`select t.id from tasks t
              join statuses s on s.company_id = t.company_id and s.id = t.state_id
              where t.company_id = ${companyId}
                and (t.project_id <> ${projectId} or s.category <> t.status
                     or t.number <> (select count(*) from tasks o where o.company_id = t.company_id
                                     and (o.created_at, o.id) <= (t.created_at, t.id)))`,
        ),
      );
      expect(wrong).toEqual([]);
      const numbered = await db.unsafeSystem((tx) =>
        queryRows<{ n: number }>(tx, sql`select count(*)::int as n from tasks where company_id = ${companyId}`),
      );
      expect(numbered[0]?.n).toBe(tasks);
      // The counters moved into the project, and the statistics are those of before.
      const counters = await db.unsafeSystem((tx) =>
        queryRows<{ n: number }>(
          tx,
          sql`select (select count(*) from task_stats where company_id = ${companyId} and project_id <> ${projectId})
                   + (select count(*) from task_assignee_counts where company_id = ${companyId} and project_id <> ${projectId})
                   + (select count(*) from task_days where company_id = ${companyId} and project_id <> ${projectId})
                   as n`,
        ),
      );
      expect(Number(counters[0]?.n)).toBe(0);
      expect(await service.statistics({ companyId, userId })).toEqual(before.get(companyId));

      // New tasks take the next numbers and keep the counters exact.
      const created = await db.tenant(companyId, (tx) =>
        queryRows<{ number: number; project_id: number; category: string }>(
          tx,
          sql`insert into tasks (company_id, created_by, title, status)
              values (${companyId}, ${userId}, 'new', 'in_progress'), (${companyId}, ${userId}, 'newer', 'done')
              returning number, project_id,
                        (select category from statuses s where s.company_id = tasks.company_id and s.id = tasks.state_id)`,
        ),
      );
      expect(created).toEqual([
        { number: tasks + 1, project_id: projectId, category: 'in_progress' },
        { number: tasks + 2, project_id: projectId, category: 'done' },
      ]);
      expect(await service.statistics({ companyId, userId })).toEqual(
        await db.tenant(companyId, (tx) => directStatistics(tx, companyId)),
      );
    }

    // A company made after the migration has its default project at once.
    const fresh = await db.unsafeSystem(async (tx) => {
      const [company] = await queryRows<{ id: number }>(
        tx,
        sql`insert into companies (name) values ('New') returning id`,
      );
      return queryRows<{ key: string; statuses: number }>(
        tx,
        sql`select p.key, (select count(*)::int from statuses s where s.company_id = p.company_id and s.project_id = p.id)
              as statuses
            from projects p where p.company_id = ${company?.id as number} and p.is_default`,
      );
    });
    expect(fresh).toEqual([{ key: 'GEN', statuses: 3 }]);
  });
});
