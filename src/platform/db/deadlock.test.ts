import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../../../test/helpers.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

it('runs a user’s transaction again when PostgreSQL ends it to break a deadlock', async () => {
  const { db } = database;
  let runs = 0;
  const held: Array<() => void> = [];
  const bothHold = Promise.all([0, 1].map((i) => new Promise<void>((resolve) => (held[i] = resolve))));
  // Each takes one lock, waits until the other holds its own, then asks for the other's.
  const crossing = (first: number, second: number, i: number) =>
    db.tenant(1, async (tx) => {
      runs++;
      await tx.execute(sql`select pg_advisory_xact_lock(${first}::bigint)`);
      held[i]?.();
      await bothHold;
      await tx.execute(sql`select pg_advisory_xact_lock(${second}::bigint)`);
      return i;
    });
  const lockA = 7_340_001;
  const lockB = 7_340_002;
  expect(await Promise.all([crossing(lockA, lockB, 0), crossing(lockB, lockA, 1)])).toEqual([0, 1]);
  // One of the two was chosen as the deadlock's victim and ran a second time.
  expect(runs).toBe(3);
});
