import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../../../test/databases.ts';
import { bearer, registerCompany, type Session, startTestJobs, TEST_DB, testConfig } from '../../../test/helpers.ts';
import { buildApp } from '../../app.ts';
import { createServices, type Services } from '../../services.ts';
import type { Jobs } from '../jobs/index.ts';
import { type Database, openPostgres } from './index.ts';
import { STATEMENTS_PER_CONNECTION } from './statements.ts';

const FIELDS = ['created_at', 'updated_at', 'due_date', 'priority'];
const FILTERS = ['status=todo', 'priority=high', 'due_before=2030-01-01', 'due_after=2020-01-01', 'search=report'];

/** Every ordering of up to four fields, each ascending or descending, with every subset of filters. */
function* distinctLists(userId: number): Generator<string> {
  const orderings: string[][] = [[]];
  for (let depth = 0; depth < FIELDS.length; depth++) {
    for (const prefix of orderings.filter((o) => o.length === depth)) {
      for (const field of FIELDS.filter((f) => !prefix.some((p) => p.replace('-', '') === f))) {
        orderings.push([...prefix, field], [...prefix, `-${field}`]);
      }
    }
  }
  for (let mask = 0; mask < 1 << FILTERS.length; mask++) {
    const filters = FILTERS.filter((_, i) => mask & (1 << i));
    for (const ordering of orderings.slice(1)) {
      yield `/api/tasks/?${[...filters, `assigned_to=${userId}`, `ordering=${ordering.join(',')}`].join('&')}`;
    }
  }
}

/**
 * The list's filter and ordering combinations are some 160,000 distinct statements. Kept prepared
 * without bound on each pooled connection, 3,000 of them grew the backends' memory from 48 MB to
 * 332 MB; each connection now keeps its most recently used ones only.
 */
describe.runIf(TEST_DB === 'postgres')('prepared statements', () => {
  let db: Database;
  let jobsDb: Database;
  let jobs: Jobs;
  let drop: () => Promise<void>;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let services: Services;
  let admin: Session;
  beforeAll(async () => {
    const created = await createServerDatabase();
    drop = created.drop;
    // One connection, so every statement lands on the backend measured.
    db = openPostgres({ url: created.url, poolSize: 1 });
    const config = testConfig();
    // The job queue holds connections of its own; writes enqueue through their own transaction.
    jobsDb = openPostgres({ url: created.url });
    jobs = await startTestJobs(jobsDb, config);
    services = createServices(config, db, jobs);
    app = await buildApp(services);
    admin = await registerCompany(app);
    await app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: bearer(admin.access),
      payload: { title: 'report', assigned_to: admin.user.id },
    });
  });
  afterAll(async () => {
    await app.close();
    await services.close();
    await jobs.stop();
    await jobsDb.close();
    await db.close();
    await drop();
  });

  const backend = async () => {
    // The pool's one connection, as its login role (which may read its own memory contexts).
    const pool = db.client as { query(text: string): Promise<{ rows: { prepared: number; bytes: string }[] }> };
    const { rows } = await pool.query(
      `select (select count(*)::int from pg_prepared_statements) as prepared,
              (select sum(total_bytes) from pg_backend_memory_contexts) as bytes`,
    );
    return { prepared: rows[0]?.prepared ?? 0, megabytes: Number(rows[0]?.bytes ?? 0) / 1024 / 1024 };
  };

  it('keeps a connection’s memory flat over thousands of distinct list queries', async () => {
    const urls = [...distinctLists(admin.user.id)];
    expect(urls.length).toBeGreaterThan(3_000);
    let warm = { prepared: 0, megabytes: 0 };
    for (const [index, url] of urls.slice(0, 3_000).entries()) {
      const response = await app.inject({ url, headers: bearer(admin.access) });
      expect(response.statusCode).toBe(200);
      if (index === 599) warm = await backend();
    }
    const after = await backend();
    console.log(
      `prepared statements ${warm.prepared} -> ${after.prepared}, backend memory ${warm.megabytes.toFixed(1)} -> ${after.megabytes.toFixed(1)} MB`,
    );
    // Those let go of are deallocated before the connection's next transaction: a few may wait.
    expect(warm.prepared).toBeLessThanOrEqual(STATEMENTS_PER_CONNECTION + 5);
    expect(after.prepared).toBeLessThanOrEqual(STATEMENTS_PER_CONNECTION + 5);
    // 2,400 more distinct statements unbounded would be about 100 MB more.
    expect(after.megabytes - warm.megabytes).toBeLessThan(5);
  }, 180_000);

  it('still answers a statement it let go of, prepared anew', async () => {
    const [first] = distinctLists(admin.user.id);
    const response = await app.inject({ url: first as string, headers: bearer(admin.access) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ count: 1 });
  });
});
