import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../../test/helpers.ts';
import { Random, seedFrom } from '../../test/random.ts';
import { queryRows, tenantQuery } from '../platform/db/index.ts';
import { isoFromPg } from './mapping.ts';

/**
 * tenantQuery, which the task reads use: one statement in a transaction of its own, whose BEGIN,
 * setup and COMMIT go out with it (pipelined on PostgreSQL). It must confine the statement exactly
 * as tenant() does, and leave the connection clean whatever the statement does.
 */
describe('one statement in a tenant transaction', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase();
  });
  afterAll(() => database.close());

  it('runs as the application role, confined to the company, in a transaction', async () => {
    const [row] = await tenantQuery<{ role: string; company: string; echo: string; block: boolean }>(
      database.db,
      42,
      // inside a transaction block, now() is the transaction's start, before this statement's
      `select current_user as role, current_setting('app.company_id') as company, $1::text as echo,
              now() < statement_timestamp() as block`,
      ['x'],
    );
    expect(row).toEqual({ role: 'tasks_app', company: '42', echo: 'x', block: true });
  });

  it('sees nothing of another company, even without a WHERE clause', async () => {
    const rows = await tenantQuery<{ n: number }>(
      database.db,
      2_000_000_000,
      'select count(*)::int as n from users where $1::int = $1::int',
      [1],
    );
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('reports a failing statement and leaves every connection usable and out of any transaction', async () => {
    for (let i = 0; i < 12; i++) {
      await expect(tenantQuery(database.db, 1, 'select 1 / $1::int as n', [0])).rejects.toThrow(/division by zero/);
    }
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        tenantQuery<{ n: number; setting: string }>(
          database.db,
          i + 1,
          "select $1::int as n, current_setting('app.company_id') as setting",
          [i],
        ),
      ),
    );
    expect(results.map(([row]) => row)).toEqual(Array.from({ length: 12 }, (_, i) => ({ n: i, setting: `${i + 1}` })));
    // The settings were local to each transaction: a plain transaction of the system role has none.
    const [after] = await database.db.unsafeSystem((tx) =>
      queryRows<{ setting: string | null }>(tx, sql`select current_setting('app.company_id', true) as setting`),
    );
    expect(after?.setting ?? '').toBe('');
  });

  it('plans as asked for this transaction only', async () => {
    const mode = (plan?: 'generic' | 'custom') =>
      tenantQuery<{ mode: string }>(database.db, 1, "select current_setting('plan_cache_mode') || $1 as mode", [''], {
        plan,
      });
    expect(await mode('generic')).toEqual([{ mode: 'force_generic_plan' }]);
    expect(await mode('custom')).toEqual([{ mode: 'force_custom_plan' }]);
    expect(await mode()).toEqual([{ mode: 'auto' }]);
  });

  it('refuses a company id that is not a positive integer', async () => {
    await expect(tenantQuery(database.db, 0, 'select 1', [])).rejects.toThrow(/invalid company id/);
    await expect(tenantQuery(database.db, 1.5, 'select 1', [])).rejects.toThrow(/invalid company id/);
  });
});

describe('timestamps read as PostgreSQL text', () => {
  it('come out exactly as drizzle’s Date would give them', () => {
    const samples = ['2026-11-28 16:30:24+00', '0999-12-31 23:59:59.9999+00', '0050-01-01 00:00:00+00'];
    const random = new Random(seedFrom('STATEMENT_SEED', 20261207));
    for (let i = 0; i < 2000; i++) {
      const ms = random.int(Date.UTC(1000, 0, 1), Date.UTC(9999, 11, 31));
      const base = new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
      const digits = random.int(0, 6);
      const fraction = digits === 0 ? '' : `.${String(random.int(0, 10 ** digits - 1)).padStart(digits, '0')}`;
      samples.push(`${base}${fraction}+00`, `${base}${fraction}+05:30`);
    }
    for (const text of samples) expect(isoFromPg(text), text).toBe(new Date(text).toISOString());
  });
});
