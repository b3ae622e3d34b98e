import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onServer } from '../../../test/databases.ts';
import { openTestDatabase, TEST_DB, type TestDatabase } from '../../../test/helpers.ts';
import { sleep } from '../../../test/timing.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { queryRows } from './index.ts';

describe.runIf(TEST_DB === 'postgres')('a connection lost while a transaction holds it', () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await openTestDatabase();
  });
  afterAll(() => test.close());

  // As a database restart does to every session (pg_ctl stop -m fast sends each this FATAL error).
  const terminate = (pid: number) => onServer((client) => client.query('select pg_terminate_backend($1)', [pid]));

  it('fails that transaction only, as unavailable; the process lives on and the pool serves again', async () => {
    const held = test.db.unsafeSystem(async (tx) => {
      const [{ pid } = { pid: 0 }] = await queryRows<{ pid: number }>(tx, sql`select pg_backend_pid() as pid`);
      await terminate(pid);
      // The server's error arrives while this transaction holds the client between statements.
      await sleep(200);
      return queryRows(tx, sql`select 1`);
    });
    const error = await held.then(
      () => undefined,
      (e: unknown) => e,
    );
    // What the client then gets is a 503 to retry, as for any other lost connection, not a 500.
    expect(error).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(error)).toBe(true);
    const [row] = await test.db.unsafeSystem((tx) => queryRows<{ one: number }>(tx, sql`select 1 as one`));
    expect(row).toEqual({ one: 1 });
    await test.db.ping();
  });
});
