import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  createTestContext,
  json,
  registerCompany,
  requestsTo,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { SEED_PASSWORD, seedAccounts } from '../accounts/seed.ts';
import { SAMPLE_LABELS, seedLabels } from '../labels/seed.ts';
import { queryRows } from '../platform/db/index.ts';
import { seedProjects } from '../projects/seed.ts';
import { companiesWithoutTasks, seedTasks } from './seed.ts';

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

  it('tells the companies without tasks', async () => {
    const fresh = await registerCompany(ctx.app);
    expect(await companiesWithoutTasks(ctx.db, [one.user.company.id, fresh.user.company.id])).toEqual([
      fresh.user.company.id,
    ]);
  });
});

describe('seedTasks over the sample projects', () => {
  let ctx: TestContext;
  let heavy: number;
  let light: number;
  const { call, createTask } = requestsTo(() => ctx.app);
  // More than one transaction's worth (TASKS_PER_TRANSACTION), so numbering carries across them.
  const TASKS = 2_500;

  beforeAll(async () => {
    ctx = await createTestContext();
    const companies = await seedAccounts(ctx.db, { companies: 2, usersPerCompany: 5, guest: true });
    [heavy, light] = companies.map((c) => c.id) as [number, number];
    await seedLabels(ctx.db, [heavy, light]);
    await seedProjects(ctx.db, [heavy, light]);
    expect(await seedTasks(ctx.db, { companyIds: [heavy], tasksPerCompany: TASKS, projects: 'all' })).toBe(TASKS);
    expect(await seedTasks(ctx.db, { companyIds: [light], tasksPerCompany: 30, projects: 'others' })).toBe(30);
  });
  afterAll(() => ctx.close());

  type ProjectFacts = {
    key: string;
    tasks: number;
    numbered: boolean;
    next_number: number;
    in_creation_order: boolean;
    states_used: number;
    states: number;
    state_matches: boolean;
    people_ok: boolean;
  };
  const projectFacts = (companyId: number) =>
    ctx.db.unsafeSystem((tx) =>
      queryRows<ProjectFacts>(
        tx,
        sql`select p.key, count(t.id)::int as tasks, p.next_number,
              coalesce(bool_and(t.number = t.n), true) as numbered,
              coalesce(bool_and(t.prev is null or t.prev <= t.created_at), true) as in_creation_order,
              count(distinct t.state_id)::int as states_used,
              (select count(*)::int from statuses s where s.company_id = p.company_id and s.project_id = p.id) as states,
              coalesce(bool_and(t.status = (select s.category from statuses s where s.company_id = t.company_id
                                                and s.id = t.state_id)), true) as state_matches,
              coalesce(bool_and(
                (select bool_and(case when exists (select 1 from project_members m where m.company_id = p.company_id
                                                   and m.project_id = p.id)
                                      then exists (select 1 from project_members m where m.company_id = p.company_id
                                                   and m.project_id = p.id and m.user_id = u.id and m.role <> 'viewer')
                                      else u.role <> 'guest' end)
                 from users u where u.company_id = t.company_id and u.id in (t.created_by, t.assigned_to))), true)
                as people_ok
            from projects p
            left join (select *, row_number() over (partition by project_id order by number)::int as n,
                              lag(created_at) over (partition by project_id order by number) as prev
                       from tasks where company_id = ${companyId}) t on t.project_id = p.id
            where p.company_id = ${companyId}
            group by p.company_id, p.id order by p.key`,
      ),
    );

  it('spreads the tasks over every project and status, numbered in order of creation', async () => {
    const facts = await projectFacts(heavy);
    expect(facts.map((f) => f.key)).toEqual(['APP', 'FIN', 'GEN', 'WEB']);
    for (const f of facts) {
      expect(f.tasks).toBe(TASKS / 4);
      expect(f).toMatchObject({
        numbered: true,
        next_number: f.tasks + 1,
        in_creation_order: true,
        states_used: f.states,
        state_matches: true,
        people_ok: true,
      });
    }
    expect(facts.find((f) => f.key === 'APP')?.states).toBe(5);
  });

  it('keeps the statistics counters and the numbers the API goes on with', async () => {
    const [row] = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ counted: number }>(
        tx,
        sql`select sum(todo + in_progress + done)::int as counted from task_stats where company_id = ${heavy}`,
      ),
    );
    expect(row?.counted).toBe(TASKS);
    const login = await call(null, 'POST', '/api/auth/login/', {
      username: 'company0001_user1',
      password: SEED_PASSWORD,
    });
    const session = json<Session>(login);
    const projects = json<{ results: Array<{ id: number; key: string }> }>(
      await call(session, 'GET', '/api/projects/'),
    );
    const web = projects.results.find((p) => p.key === 'WEB');
    const task = await createTask(session, { project: web?.id });
    expect(task).toMatchObject({ number: TASKS / 4 + 1, ref: `WEB-${TASKS / 4 + 1}` });
  });

  it('puts one or two of the company’s labels on about a third of the tasks', async () => {
    const [row] = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ labelled: number; two: number; labels: number }>(
        tx,
        sql`select count(distinct task_id)::int as labelled, count(distinct label_id)::int as labels,
              (select count(*)::int from (select task_id from task_labels where company_id = ${heavy}
                                          group by task_id having count(*) = 2) x) as two
            from task_labels where company_id = ${heavy}`,
      ),
    );
    expect(row?.labels).toBe(SAMPLE_LABELS.length);
    expect(row?.labelled).toBeGreaterThan(TASKS * 0.25);
    expect(row?.labelled).toBeLessThan(TASKS * 0.45);
    expect(row?.two).toBeGreaterThan(TASKS * 0.05);
  });

  it('leaves the default project alone when asked for the others', async () => {
    const facts = await projectFacts(light);
    expect(facts.map((f) => [f.key, f.tasks])).toEqual([
      ['APP', 10],
      ['FIN', 10],
      ['GEN', 0],
      ['WEB', 10],
    ]);
    expect(facts.every((f) => f.numbered && f.people_ok && f.next_number === f.tasks + 1)).toBe(true);
  });
});
