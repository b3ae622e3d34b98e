/**
 * How long seedTasks takes for 100,000 tasks in one company (plus 100 tasks each in 999 others,
 * as the performance goals assume), on the embedded database and on PostgreSQL.
 * Usage: npx tsx bench/tasks-seed.ts [embedded|postgres|both] [tasks=100000]
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { seedAccounts } from '../src/accounts/seed.ts';
import { type Database, openEmbedded, openPostgres } from '../src/platform/db/index.ts';
import { seedTasks } from '../src/tasks/seed.ts';
import { createServerDatabase } from '../test/databases.ts';

const which = process.argv[2] ?? 'both';
const tasks = Number(process.argv[3] ?? 100_000);

async function time<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  console.log(`  ${label.padEnd(44)} ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

async function bench(driver: 'embedded' | 'postgres') {
  console.log(driver);
  let db: Database;
  let drop = async () => {};
  if (driver === 'postgres') {
    const created = await createServerDatabase({ empty: true });
    drop = created.drop;
    db = openPostgres({ url: created.url });
  } else {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tasks-seed-'));
    db = await openEmbedded({ dataDir });
    drop = async () => rmSync(dataDir, { recursive: true, force: true });
  }
  try {
    await time('migrate', () => db.migrate());
    const companies = await time('1,000 companies with 5 users each', () =>
      seedAccounts(db, { companies: 1000, usersPerCompany: 5 }),
    );
    const [first, ...others] = companies.map((c) => c.id);
    await time(`${tasks.toLocaleString('en')} tasks in one company`, () =>
      seedTasks(db, { companyIds: [first as number], tasksPerCompany: tasks }),
    );
    await time(`100 tasks in each of ${others.length} others`, () =>
      seedTasks(db, { companyIds: others, tasksPerCompany: 100 }),
    );
  } finally {
    await db.close();
    await drop();
  }
}

for (const driver of ['embedded', 'postgres'] as const) {
  if (which === driver || which === 'both') await bench(driver);
}
