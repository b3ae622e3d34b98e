import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createTestContext, registerCompany, type Session, type TestContext } from '../../test/helpers.ts';
import { queryRows } from '../platform/db/index.ts';
import { seedTasks } from './seed.ts';

describe('seedTasks', () => {
  let ctx: TestContext;
  let one: Session;
  let two: Session;
  let members: number[];
  beforeAll(async () => {
    ctx = await createTestContext();
    one = await registerCompany(ctx.app);
    members = [one.user.id, (await addMember(ctx.app, one)).user.id, (await addMember(ctx.app, one)).user.id];
    two = await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  it('spreads tasks over statuses, priorities, assignees, due dates and the last 60 days', async () => {
    const companyIds = [one.user.company.id, two.user.company.id];
    expect(await seedTasks(ctx.db, { companyIds, tasksPerCompany: 1000 })).toBe(2000);
    const [stats] = await ctx.db.unsafeSystem((tx) =>
      queryRows<Record<string, number | boolean>>(
        tx,
        sql`select
          count(*) filter (where company_id = ${one.user.company.id})::int as one,
          count(distinct status)::int as statuses,
          count(distinct priority)::int as priorities,
          count(distinct assigned_to) filter (where company_id = ${one.user.company.id})::int as assignees,
          count(*) filter (where assigned_to is null)::int as unassigned,
          count(*) filter (where due_date is null)::int as no_due,
          count(*) filter (where due_date < now() and status <> 'done')::int as overdue,
          bool_and(created_at > now() - interval '60 days' and created_at <= now()) as recent,
          min(created_at) < now() - interval '50 days' as spread,
          bool_and((status = 'done') = (completed_at is not null)) as completed_with_status,
          bool_and(updated_at >= created_at and updated_at <= now()) as updated_in_order,
          bool_and(completed_at is null or completed_at between created_at and now()) as completed_in_order
        from tasks`,
      ),
    );
    expect(stats).toMatchObject({
      one: 1000,
      statuses: 3,
      priorities: 4,
      assignees: 3,
      recent: true,
      spread: true,
      completed_with_status: true,
      updated_in_order: true,
      completed_in_order: true,
    });
    expect(stats?.unassigned).toBeGreaterThan(100);
    expect(stats?.no_due).toBeGreaterThan(100);
    expect(stats?.overdue).toBeGreaterThan(0);
    const assignees = await ctx.db.tenant(one.user.company.id, (tx) =>
      queryRows<{ id: number }>(tx, sql`select distinct assigned_to as id from tasks where assigned_to is not null`),
    );
    expect(assignees.map((a) => a.id).sort()).toEqual([...members].sort());
  });

  it('keeps the task counts right', async () => {
    const [row] = await ctx.db.tenant(one.user.company.id, (tx) =>
      queryRows<{ n: number }>(
        tx,
        sql`select sum(todo + in_progress + done)::int as n from task_stats where company_id = ${one.user.company.id}`,
      ),
    );
    expect(row?.n).toBe(1000);
  });

  it('gives the API something to search and count', async () => {
    const [row] = await ctx.db.tenant(one.user.company.id, (tx) =>
      queryRows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from tasks where search @@ websearch_to_tsquery('english', 'reviewing')`,
      ),
    );
    expect(row?.n).toBeGreaterThan(0);
  });

  it('does nothing without companies', async () => {
    expect(await seedTasks(ctx.db, { companyIds: [], tasksPerCompany: 10 })).toBe(0);
  });
});
