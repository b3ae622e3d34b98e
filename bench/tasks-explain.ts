/**
 * The plans and timings of the SQL behind each task endpoint, on PostgreSQL with 100,000 tasks in
 * the caller's company among 1,000 companies, with 300,000 comments on them: the real query functions run with auto_explain
 * reporting every statement's EXPLAIN ANALYZE back to this client.
 * Usage: [EXPLAIN_AS=admin] npx tsx bench/tasks-explain.ts
 */
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import { seedAccounts } from '../src/accounts/seed.ts';
import { seedComments } from '../src/comments/seed.ts';
import { openPostgres, queryRows, queryText } from '../src/platform/db/index.ts';
import * as q from '../src/tasks/reads.ts';
import { seedTasks } from '../src/tasks/seed.ts';
import { createServerDatabase } from '../test/databases.ts';
import { sqlOnlyTasksService } from './tasks-service.ts';

const created = await createServerDatabase({ empty: true });
const db = openPostgres({ url: created.url, poolSize: 1 });
try {
  await db.migrate();
  const companies = await seedAccounts(db, { companies: 1000, usersPerCompany: 5 });
  const [first, ...others] = companies.map((c) => c.id) as [number, ...number[]];
  await seedTasks(db, { companyIds: [first], tasksPerCompany: 100_000 });
  await seedTasks(db, { companyIds: others, tasksPerCompany: 100 });
  await seedComments(db, { companyIds: [first], perTask: 3 });
  const pool = db.client as pg.Pool;
  // As the owner: the application's roles may not vacuum. Autovacuum would get there by itself;
  // the rewrite drops the task versions each comment's triggers left (see bench/tasks.ts).
  await pool.query('vacuum full tasks');
  await pool.query('vacuum analyze');
  const client = await pool.connect();
  await client.query(
    "load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set auto_explain.log_buffers = on; set auto_explain.log_nested_statements = on; set auto_explain.log_level = notice; set client_min_messages = notice",
  );
  const plans: string[] = [];
  client.on('notice', (notice) => {
    if (notice.message?.includes('Query Text') && !notice.message.includes('set_config')) plans.push(notice.message);
  });
  client.release();

  // The statements name the caller, whose check they include: a member of the first company, as most
  // callers are (EXPLAIN_AS=admin for its admin, whose sight of projects is decided without members).
  const role = process.env.EXPLAIN_AS === 'admin' ? 'admin' : 'member';
  const [caller, other] = await db.unsafeSystem((tx) =>
    queryRows<{ id: number }>(
      tx,
      sql`select id from users where company_id = ${first} order by role <> ${role}, id limit 2`,
    ),
  );
  const userId = caller?.id ?? 0;
  // Assigned tasks to filter by: the seed assigns them to the members.
  const assignee = (role === 'member' ? caller : other)?.id ?? 0;
  // As tenantQuery runs them: in the caller's transaction, with the plan mode asked for.
  const inTx =
    (tx: Parameters<Parameters<typeof db.tenant>[1]>[0]): q.Run =>
    async (text, values, options) => {
      if (options?.plan !== undefined) {
        await queryText(tx, "select set_config('plan_cache_mode', $1, true)", [`force_${options.plan}_plan`]);
      }
      return queryText(tx, text, values);
    };
  const inTenant = (run: (tx: Parameters<Parameters<typeof db.tenant>[1]>[0]) => Promise<unknown>) => () =>
    db.tenant(first, run);
  // The writes go through the service, which runs their statements in its own transaction.
  const service = sqlOnlyTasksService(db);
  const auth = { companyId: first, userId };
  let flip = false;
  const cases: Array<[string, () => Promise<unknown>]> = [
    [
      'list: caller, count, page of 20, -created_at',
      inTenant((tx) => q.listPage(inTx(tx), first, userId, {}, undefined, 20, 0)),
    ],
    ['list: status=done', inTenant((tx) => q.listPage(inTx(tx), first, userId, { status: 'done' }, undefined, 20, 0))],
    [
      'list: ordering=-priority',
      inTenant((tx) => q.listPage(inTx(tx), first, userId, {}, [{ key: 'priority', descending: true }], 20, 0)),
    ],
    [
      'list: priority=high&assigned_to (rows counted)',
      inTenant((tx) =>
        q.listPage(inTx(tx), first, userId, { priority: 'high', assignedTo: assignee }, undefined, 20, 0),
      ),
    ],
    [
      'list: search (ranked)',
      inTenant((tx) => q.listPage(inTx(tx), first, userId, { search: 'review invoices' }, undefined, 20, 0)),
    ],
    ['get one: caller and task', inTenant((tx) => q.findCheckedTask(inTx(tx), first, userId, 50_000))],
    ['statistics: caller and every figure', inTenant((tx) => q.checkedStatistics(inTx(tx), first, userId))],
    ['create: every statement of POST', () => service.create(auth, { title: 'Bench task', priority: 'high' })],
    [
      'update: every statement of PATCH',
      // A real change each time: an unchanged value writes no history and moves no counter.
      () => {
        flip = !flip;
        return service.update(auth, 50_000, { priority: flip ? 'low' : 'urgent' });
      },
    ],
  ];
  // warm the cache, as a running server would have it
  for (const [, run] of cases) await run();
  for (const [label, run] of cases) {
    plans.length = 0;
    const started = performance.now();
    await run();
    console.log(`\n=== ${label}: ${(performance.now() - started).toFixed(1)} ms in the client`);
    for (const plan of plans) console.log(plan);
  }
  // Without the instrumentation, which costs more than the work on the whole-company scans.
  const quiet = await pool.connect();
  await quiet.query('set auto_explain.log_min_duration = -1');
  quiet.release();
  console.log('\n=== median of 9 runs, no EXPLAIN');
  for (const [label, run] of cases) {
    const times: number[] = [];
    for (let i = 0; i < 9; i++) {
      const started = performance.now();
      await run();
      times.push(performance.now() - started);
    }
    console.log(`  ${label.padEnd(48)} ${(times.sort((a, b) => a - b)[4] ?? 0).toFixed(1)} ms`);
  }
} finally {
  await db.close();
  await created.drop();
}
