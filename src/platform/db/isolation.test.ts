import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase, onServer } from '../../../test/databases.ts';
import {
  addMember,
  bearer,
  createTestContext,
  openTestDatabase,
  registerCompany,
  TEST_DB,
  type TestContext,
  testContextOn,
} from '../../../test/helpers.ts';
import { openPostgres, queryRows, schema, type Tx } from './index.ts';
import { createLoginRole, rlsBypassReasons } from './login-role.ts';
import { TENANT_TABLES } from './schema.ts';

/**
 * The application logged in as a role made by `cli create-login-role` on a database migrated by
 * its owner: what the README's Production section asks for.
 */
async function loginRoleContext(): Promise<TestContext> {
  const created = await createServerDatabase();
  const role = `tasks_login_${randomBytes(5).toString('hex')}`;
  const owner = openPostgres({ url: created.url });
  try {
    await createLoginRole(owner, role, 'a-login-password');
  } finally {
    await owner.close();
  }
  const url = new URL(created.url);
  url.username = role;
  url.password = 'a-login-password';
  const db = openPostgres({ url: url.toString() });
  return testContextOn({
    db,
    url: url.toString(),
    close: async () => {
      await db.close();
      await created.drop();
      await onServer((client) => client.query(`drop role ${role}`));
    },
  });
}

const logins: [string, () => Promise<TestContext>][] = [[process.env.TEST_DB ?? '', createTestContext]];
if (TEST_DB === 'postgres') logins.push(['postgres, as a login role from create-login-role', loginRoleContext]);

/**
 * The backstop: even a query with no company filter at all sees only the rows of the company the
 * transaction is set to, and nothing when none is set.
 */
describe.each(logins)('row-level security (%s)', (_label, open) => {
  let ctx: TestContext;
  let a: number;
  let b: number;

  beforeAll(async () => {
    ctx = await open();
    // every tenant table gets rows of each company: users, tokens, invitations, tasks, their
    // history and counters, an idempotency key, preferences and an email to a member, a comment,
    // watchers and an inbox item
    for (let i = 0; i < 3; i++) {
      const admin = await registerCompany(ctx.app);
      const headers = bearer(admin.access);
      await ctx.app.inject({
        method: 'POST',
        url: '/api/auth/invitations/',
        headers,
        payload: { email: `x${i}@example.com` },
      });
      const member = await addMember(ctx.app, admin);
      await ctx.app.inject({
        method: 'PATCH',
        url: '/api/notifications/preferences/',
        headers,
        payload: { daily_digest: true },
      });
      await ctx.app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers: { ...headers, 'idempotency-key': `key-${i}` },
        payload: { title: 'A task', assigned_to: member.user.id },
      });
      const first = (await ctx.app.inject({ method: 'GET', url: '/api/tasks/', headers })).json().results[0].id;
      await ctx.app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers,
        payload: { title: 'After', blocked_by: [first] },
      });
      // Written directly, as this test's requests write none yet: a label on the company's task,
      // and the member as a member of the default project.
      await ctx.db.tenant(admin.user.company.id, (tx) =>
        tx.execute(sql`
          insert into project_members (company_id, project_id, user_id, role)
          select company_id, id, ${member.user.id}, 'member' from projects where is_default`),
      );
      await ctx.db.tenant(admin.user.company.id, (tx) =>
        tx.execute(sql`
          with label as (insert into labels (company_id, name, color) values (${admin.user.company.id}, 'x', '#000000')
                         returning company_id, id)
          insert into task_labels (company_id, task_id, label_id)
          select t.company_id, t.id, label.id from tasks t join label on label.company_id = t.company_id`),
      );
      // A comment mentioning the member: the comment, their watching and their inbox item.
      await ctx.app.inject({
        method: 'POST',
        url: `/api/tasks/${first}/comments/`,
        headers,
        payload: { body: `For @${member.user.username}` },
      });
      // An attachment's rows as its feature writes them (the bytes do not matter here): one kept
      // (storage_usage follows by trigger), one deleted (its key queued in attachment_garbage), and
      // an upload under way.
      await ctx.db.tenant(admin.user.company.id, (tx) =>
        tx.execute(sql`
          with kept as (
            insert into attachments (company_id, task_id, filename, content_type, size, sha256, storage_key, uploaded_by)
            select company_id, id, 'a.txt', 'text/plain', 1, 'x', company_id || '/kept', created_by from tasks
            union all
            select company_id, id, 'b.txt', 'text/plain', 1, 'x', company_id || '/gone', created_by from tasks
            returning company_id, id, storage_key)
          insert into attachment_uploads (company_id, storage_key, reserved)
          select company_id, company_id || '/uploading', 1 from kept limit 1`),
      );
      await ctx.db.tenant(admin.user.company.id, (tx) =>
        tx.execute(sql`delete from attachments where storage_key like '%/gone'`),
      );
      if (i === 0) a = admin.user.company.id;
      if (i === 1) b = admin.user.company.id;
    }
  });
  afterAll(() => ctx.close());

  /** The companies whose rows each tenant table shows, asked with no WHERE clause at all. */
  const unfiltered = async (companyId: number | null) => {
    const run = async (tx: Tx) => {
      const seen: Record<string, number[]> = {};
      for (const table of TENANT_TABLES) {
        const column = sql.identifier(table === 'companies' ? 'id' : 'company_id');
        const rows = await queryRows<{ c: number }>(
          tx,
          sql`select distinct ${column} as c from ${sql.identifier(table)}`,
        );
        seen[table] = rows.map((r) => r.c).sort();
      }
      return seen;
    };
    if (companyId !== null) return ctx.db.tenant(companyId, run);
    // the application role with no company set, as a request would be if it forgot to set one
    return ctx.db.unsafeSystem(async (tx) => {
      await tx.execute(sql`select set_config('role', 'tasks_app', true)`);
      return run(tx);
    });
  };
  const everywhere = (companies: number[]) => Object.fromEntries(TENANT_TABLES.map((t) => [t, companies]));

  it('has rows of every company in every tenant table', async () => {
    const all = await ctx.db.unsafeSystem(async (tx) => {
      const counts: Record<string, number> = {};
      for (const table of TENANT_TABLES) {
        const [row] = await queryRows<{ n: number }>(
          tx,
          sql`select count(distinct ${sql.identifier(table === 'companies' ? 'id' : 'company_id')})::int as n from ${sql.identifier(table)}`,
        );
        counts[table] = row?.n ?? 0;
      }
      return counts;
    });
    expect(all).toEqual(Object.fromEntries(TENANT_TABLES.map((t) => [t, 3])));
  });

  it('shows no tenant rows when no company is set', async () => {
    expect(await unfiltered(null)).toEqual(everywhere([]));
  });

  it('shows company A only its own rows, with no WHERE clause', async () => {
    expect(await unfiltered(a)).toEqual(everywhere([a]));
    expect(await unfiltered(b)).toEqual(everywhere([b]));
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

  it('answers the waiting tasks past the policies (task_waiters) only for the transaction’s own company', async () => {
    const [{ blocker } = { blocker: 0 }] = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ blocker: number }>(
        tx,
        sql`select blocker_id as blocker from task_dependencies where company_id = ${b}`,
      ),
    );
    const waiters = (companyId: number) =>
      ctx.db.tenant(companyId, (tx) =>
        queryRows<{ n: number }>(tx, sql`select n from task_waiters(${b}, array[${blocker}]::int[])`),
      );
    expect(await waiters(b)).toEqual([{ n: 1 }]);
    expect(await waiters(a)).toEqual([]);
  });

  it('keeps the setting inside its transaction', async () => {
    await ctx.db.tenant(a, async () => {});
    expect(await unfiltered(null)).toEqual(everywhere([]));
  });

  it('leaves every tenant table owned by neither application role (FORCE is checked in schema.test.ts)', async () => {
    const rows = await ctx.db.unsafeSystem((tx) =>
      queryRows<{ relname: string; owner: string }>(
        tx,
        sql`select c.relname, pg_get_userbyid(c.relowner) as owner
            from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'`,
      ),
    );
    for (const table of TENANT_TABLES) {
      const row = rows.find((r) => r.relname === table);
      expect(row, table).toBeDefined();
      expect(['tasks_app', 'tasks_system'], table).not.toContain(row?.owner);
    }
  });
});

describe.runIf(TEST_DB === 'postgres')('the login role', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await loginRoleContext();
  });
  afterAll(() => ctx.close());

  it('is bound by row-level security, and the superuser the tests otherwise use is not', async () => {
    expect(await rlsBypassReasons(ctx.db)).toEqual([]);
    const superuser = await openTestDatabase();
    try {
      expect(await rlsBypassReasons(superuser.db)).toEqual(
        expect.arrayContaining([expect.stringMatching(/is a superuser$/), expect.stringMatching(/owns the tables/)]),
      );
    } finally {
      await superuser.close();
    }
  });

  it('reads no tenant table before switching to an application role', async () => {
    const pool = ctx.db.client as pg.Pool;
    await expect(pool.query('select count(*) from users')).rejects.toThrow(/permission denied/);
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
