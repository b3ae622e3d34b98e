import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, openTestDatabase, registerCompany, type TestContext } from '../../../test/helpers.ts';
import { queryRows, schema } from './index.ts';

/**
 * The backstop: even a query with no company filter at all sees only the rows of the company the
 * transaction is set to, and nothing when none is set.
 */
describe(`row-level security (${process.env.TEST_DB})`, () => {
  let ctx: TestContext;
  let a: number;
  let b: number;

  beforeAll(async () => {
    ctx = await createTestContext();
    a = (await registerCompany(ctx.app)).user.company.id;
    b = (await registerCompany(ctx.app)).user.company.id;
    await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  const unfiltered = async (companyId: number | null) => {
    const run = async (tx: Parameters<Parameters<typeof ctx.db.unsafeSystem>[0]>[0]) => ({
      companies: (await tx.select({ id: schema.companies.id }).from(schema.companies)).map((r) => r.id),
      users: (await tx.select({ companyId: schema.users.companyId }).from(schema.users)).map((r) => r.companyId),
      tokens: (await tx.select({ companyId: schema.refreshTokens.companyId }).from(schema.refreshTokens)).map(
        (r) => r.companyId,
      ),
    });
    if (companyId !== null) return ctx.db.tenant(companyId, run);
    // the application role with no company set, as a request would be if it forgot to set one
    return ctx.db.unsafeSystem(async (tx) => {
      await tx.execute(sql`select set_config('role', 'tasks_app', true)`);
      return run(tx);
    });
  };

  it('shows no tenant rows when no company is set', async () => {
    expect(await unfiltered(null)).toEqual({ companies: [], users: [], tokens: [] });
  });

  it('shows company A only its own rows, with no WHERE clause', async () => {
    const seen = await unfiltered(a);
    expect(seen.companies).toEqual([a]);
    expect(new Set(seen.users)).toEqual(new Set([a]));
    expect(new Set(seen.tokens)).toEqual(new Set([a]));
  });

  it('refuses to write a row into another company', async () => {
    const attempt = ctx.db.tenant(a, (tx) =>
      tx
        .insert(schema.users)
        .values({ companyId: b, username: 'intruder', email: 'intruder@example.com', passwordHash: 'x' }),
    );
    await expect(attempt).rejects.toThrow();
    const changed = await ctx.db.tenant(a, (tx) =>
      tx.update(schema.users).set({ firstName: 'hacked' }).where(sql`${schema.users.companyId} = ${b}`).returning(),
    );
    expect(changed).toEqual([]);
    const names = await ctx.db.tenant(b, (tx) => tx.select({ f: schema.users.firstName }).from(schema.users));
    expect(names.map((n) => n.f)).not.toContain('hacked');
  });

  it('keeps the setting inside its transaction', async () => {
    await ctx.db.tenant(a, async () => {});
    expect(await unfiltered(null)).toEqual({ companies: [], users: [], tokens: [] });
  });

  it('makes the owner obey the policies too (FORCE), and the app role own nothing', async () => {
    const rows = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ relname: string; relforcerowsecurity: boolean; owner: string }>(
        tx,
        sql`
        select c.relname, c.relforcerowsecurity, pg_get_userbyid(c.relowner) as owner
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r' and c.relname in ('companies', 'users', 'refresh_tokens', 'invitations')`,
      ),
    );
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.relforcerowsecurity).toBe(true);
      expect(row.owner).not.toBe('tasks_app');
    }
  });
});

describe('a second database handle', () => {
  it('opens a fresh, migrated database per test file', async () => {
    const other = await openTestDatabase();
    const count = await other.db.unsafeSystem((tx) => tx.select().from(schema.companies));
    expect(count).toEqual([]);
    await other.close();
  });
});
