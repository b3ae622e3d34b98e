import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_DB, type TestDatabase } from '../../../test/helpers.ts';
import { queryRows } from './index.ts';

/**
 * A transaction writes its first statement behind BEGIN and the setup, before their answer
 * (pipeline mode), and may write statements back to back: each must still run inside the
 * transaction, confined, in the order written.
 */
describe(`a pipelined transaction (${TEST_DB})`, () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await openTestDatabase();
  });
  afterAll(() => test.close());

  it('runs its first statement inside the transaction, as the application role, confined to the company', async () => {
    const rows = await test.db.tenant(42, async (tx) => {
      const [first] = await queryRows<{ role: string; company: string; started: string }>(
        tx,
        sql`select current_user as role, current_setting('app.company_id') as company, now()::text as started`,
      );
      const [second] = await queryRows<{ started: string }>(tx, sql`select now()::text as started`);
      return { first, second };
    });
    expect(rows.first).toMatchObject({ role: 'tasks_app', company: '42' });
    // now() is the transaction's start: the same for both only within one transaction
    expect(rows.second?.started).toBe(rows.first?.started);
  });

  it('runs statements written back to back in order, and a failure among them rolls all back', async () => {
    const order = await test.db.unsafeSystem(async (tx) => {
      await queryRows(tx, sql`create temporary table steps (n int) on commit drop`);
      const written = [1, 2, 3].map((n) => queryRows(tx, sql`insert into steps values (${n}) returning n`));
      await Promise.all(written);
      return queryRows<{ n: number }>(tx, sql`select n from steps order by ctid`);
    });
    expect(order.map((r) => r.n)).toEqual([1, 2, 3]);
    const failed = test.db.unsafeSystem(async (tx) => {
      await Promise.all([
        queryRows(tx, sql`create temporary table kept (n int)`),
        queryRows(tx, sql`select 1 / 0`),
        queryRows(tx, sql`select 1`),
      ]);
    });
    await expect(failed).rejects.toMatchObject({ cause: { message: 'division by zero' } });
    const [left] = await test.db.unsafeSystem((tx) =>
      queryRows<{ found: boolean }>(tx, sql`select to_regclass('pg_temp.kept') is not null as found`),
    );
    expect(left).toEqual({ found: false });
  });
});
