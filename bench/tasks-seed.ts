/**
 * How long seeding takes, step by step as `cli seed --companies 1000 --tasks 100 --heavy N` does it:
 * N tasks (100,000) spread over one company's projects, 100 in the default project of each of 999
 * others and 50 in their other projects, on the embedded database and on PostgreSQL.
 * Usage: npx tsx bench/tasks-seed.ts [embedded|postgres|both] [tasks=100000]
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { seedAccounts } from '../src/accounts/seed.ts';
import { seedLabels } from '../src/labels/seed.ts';
import { type Database, openEmbedded, openPostgres } from '../src/platform/db/index.ts';
import { seedProjects } from '../src/projects/seed.ts';
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
    const companies = await time('1,000 companies with 5 users and a guest each', () =>
      seedAccounts(db, { companies: 1000, usersPerCompany: 5, guest: true }),
    );
    const ids = companies.map((c) => c.id);
    const [first, ...others] = ids;
    await time('their labels and projects', async () => {
      await seedLabels(db, ids);
      await seedProjects(db, ids);
    });
    await time(`${tasks.toLocaleString('en')} tasks over one company's projects`, () =>
      seedTasks(db, { companyIds: [first as number], tasksPerCompany: tasks, projects: 'all' }),
    );
    await time(`150 tasks in each of ${others.length} others`, async () => {
      await seedTasks(db, { companyIds: others, tasksPerCompany: 100 });
      await seedTasks(db, { companyIds: others, tasksPerCompany: 50, projects: 'others' });
    });
  } finally {
    await db.close();
    await drop();
  }
}

for (const driver of ['embedded', 'postgres'] as const) {
  if (which === driver || which === 'both') await bench(driver);
}
