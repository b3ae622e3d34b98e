/**
 * What a search's timing says about other companies' tasks: company A searches for a word none of
 * its tasks has, once for a word that all of company B's tasks have and once for a word no task
 * anywhere has. Any difference between the two is what A learns about B. Runs the endpoint's SQL
 * through the task service (no HTTP), alternating the two words.
 * Usage: npx tsx bench/search-timing.ts [rounds=400] [A's tasks=1000] [B's tasks=20000]
 */
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import { seedAccounts } from '../src/accounts/seed.ts';
import { openPostgres, queryRows } from '../src/platform/db/index.ts';
import { createServerDatabase } from '../test/databases.ts';
import { sqlOnlyTasksService } from './tasks-service.ts';

const rounds = Number(process.argv[2] ?? 400);
const tasksOfA = Number(process.argv[3] ?? 1_000);
const tasksOfB = Number(process.argv[4] ?? 20_000);
const created = await createServerDatabase();
const db = openPostgres({ url: created.url, poolSize: 1 });
try {
  const [a, b] = (await seedAccounts(db, { companies: 2, usersPerCompany: 1 })).map((c) => c.id) as [number, number];
  await db.unsafeSystem(async (tx) => {
    for (const [company, count, words] of [
      [a, tasksOfA, 'quarterly budget review'],
      [b, tasksOfB, 'zebra migration plan'],
    ] as const) {
      await tx.execute(sql`insert into tasks (company_id, title, description, created_by)
        select ${company}::int, ${words} || ' ' || g, 'notes ' || g,
               (select id from users where company_id = ${company}::int limit 1)
        from generate_series(1, ${count}::int) g`);
    }
  });
  await (db.client as pg.Pool).query('vacuum analyze tasks');
  const [caller] = await db.unsafeSystem((tx) =>
    queryRows<{ id: number }>(tx, sql`select id from users where company_id = ${a} limit 1`),
  );
  const auth = { companyId: a, userId: caller?.id as number };
  const service = sqlOnlyTasksService(db);
  const page = { page: 1, size: 20, offset: 0 };
  const times: Record<string, number[]> = { zebra: [], quokka: [] };
  const search = async (word: string) => {
    const started = process.hrtime.bigint();
    const { count } = await service.listTasks(auth, { search: word }, page);
    const took = Number(process.hrtime.bigint() - started) / 1e6;
    if (count !== 0) throw new Error(`company A found ${count} tasks for ${word}`);
    return took;
  };
  for (let i = 0; i < 50; i++) for (const word of Object.keys(times)) await search(word);
  for (let i = 0; i < rounds; i++) for (const word of Object.keys(times)) times[word]?.push(await search(word));
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
  console.log(`company A (${tasksOfA} tasks) searching a word it does not have, ${rounds} times each, medians:`);
  console.log(`  in all of company B's ${tasksOfB} tasks ("zebra"): ${median(times.zebra ?? []).toFixed(2)} ms`);
  console.log(`  in no task anywhere ("quokka"): ${median(times.quokka ?? []).toFixed(2)} ms`);
} finally {
  await db.close();
  await created.drop();
}
