import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../../../test/helpers.ts';
import { queryRows } from './index.ts';
import { TENANT_TABLES } from './schema.ts';

/**
 * What sharding by company needs from the schema, checked on the migrated database itself: every
 * table but the company root is a tenant table keyed by company_id first, every reference between
 * tenant tables carries company_id, and row-level security is forced on each.
 */
describe('the schema is ready to be distributed by company', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase();
  });
  afterAll(() => database.close());

  const rows = <T>(query: ReturnType<typeof sql>) => database.db.unsafeSystem((tx) => queryRows<T>(tx, query));

  it('names every application table as a tenant table', async () => {
    const tables = await rows<{ name: string }>(sql`
      select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r' and c.relname <> '__drizzle_migrations'`);
    expect(tables.map((t) => t.name).sort()).toEqual([...TENANT_TABLES].sort());
  });

  it('leads every tenant table’s primary key with company_id (the root: its id)', async () => {
    const keys = await rows<{ table: string; first: string }>(sql`
      select c.relname as table, a.attname as first
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
      where k.contype = 'p' and c.relnamespace = 'public'::regnamespace`);
    for (const table of TENANT_TABLES) {
      const key = keys.find((k) => k.table === table);
      expect(key, table).toBeDefined();
      expect(key?.first, table).toBe(table === 'companies' ? 'id' : 'company_id');
    }
  });

  it('includes company_id in every foreign key between tenant tables', async () => {
    const references = await rows<{ name: string; source: string; columns: string[]; target_columns: string[] }>(sql`
      select k.conname as name, c.relname as source,
             array(select a.attname::text from unnest(k.conkey) with ordinality u(n, i)
                   join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.i) as columns,
             array(select a.attname::text from unnest(k.confkey) with ordinality u(n, i)
                   join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.i) as target_columns
      from pg_constraint k join pg_class c on c.oid = k.conrelid
      where k.contype = 'f' and c.relnamespace = 'public'::regnamespace`);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) {
      expect(reference.columns, reference.name).toContain('company_id');
      const index = reference.columns.indexOf('company_id');
      expect(['company_id', 'id'], reference.name).toContain(reference.target_columns[index]);
    }
  });

  it('forces row-level security on every tenant table', async () => {
    const tables = await rows<{ name: string; forced: boolean; policies: number }>(sql`
      select c.relname as name, c.relforcerowsecurity as forced,
             (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
      from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'`);
    for (const table of TENANT_TABLES) {
      expect(
        tables.find((t) => t.name === table),
        table,
      ).toMatchObject({ forced: true, policies: 2 });
    }
  });
});
