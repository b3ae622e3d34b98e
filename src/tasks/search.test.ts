import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createTestContext,
  json,
  registerCompany,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { queryRows } from '../platform/db/index.ts';
import type { Task } from './schemas.ts';

/*
 * Search over the text of a task's comments (issue 18): comments are written here straight into
 * their table, as the comments feature's writes do, so that only what search keeps of them
 * (drizzle/0022's trigger) is under test.
 */

let ctx: TestContext;
let admin: Session;
let member: Session;

type Page = { count: number; next: string | null; previous: string | null; results: Task[] };

const call = (session: Session, method: 'GET' | 'POST', url: string, payload?: object) =>
  ctx.app.inject({ method, url, payload, headers: bearer(session.access) });

async function search(session: Session, query: string): Promise<Page> {
  const response = await call(session, 'GET', `/api/tasks/?${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return json<Page>(response);
}
const found = async (words: string, session = admin) =>
  (await search(session, `search=${encodeURIComponent(words)}`)).results.map((t) => t.title);

async function createTask(session: Session, body: Record<string, unknown>): Promise<Task> {
  const response = await call(session, 'POST', '/api/tasks/', body);
  expect(response.statusCode, response.body).toBe(201);
  return json<Task>(response);
}

async function comment(session: Session, taskId: number, body: string): Promise<number> {
  const [row] = await ctx.db.tenant(session.user.company.id, (tx) =>
    queryRows<{ id: number }>(
      tx,
      sql`insert into comments (company_id, task_id, author_id, body)
          values (${session.user.company.id}, ${taskId}, ${session.user.id}, ${body}) returning id`,
    ),
  );
  return row?.id as number;
}

const onComment = (session: Session, id: number, change: 'edit' | 'delete', body = '') =>
  ctx.db.tenant(session.user.company.id, (tx) =>
    tx.execute(
      change === 'edit'
        ? sql`update comments set body = ${body}, edited = true where company_id = ${session.user.company.id} and id = ${id}`
        : sql`delete from comments where company_id = ${session.user.company.id} and id = ${id}`,
    ),
  );

beforeAll(async () => {
  ctx = await createTestContext();
  admin = await registerCompany(ctx.app);
  member = await addMember(ctx.app, admin);
});

afterAll(async () => {
  await ctx.close();
});

describe('search over comments', () => {
  it('finds a task by a word only in its comments, by its stem', async () => {
    const task = await createTask(admin, { title: 'Quarterly close', description: 'numbers' });
    await comment(member, task.id, 'We are invoicing the client on Monday.');
    expect(await found('invoices')).toEqual(['Quarterly close']);
    expect(await found('INVOICE')).toEqual(['Quarterly close']);
    expect((await search(admin, 'search=invoices')).count).toBe(1);
    // websearch syntax over comments too
    expect(await found('invoicing -quarterly')).toEqual([]);
    expect(await found('"invoicing the client"')).toEqual(['Quarterly close']);
  });

  it('ranks title above description above comments, and orders by the ordering when given', async () => {
    const inComment = await createTask(admin, { title: 'Zephyr three', description: 'unrelated' });
    await comment(admin, inComment.id, 'Please zephyr-review the ledgers');
    const inDescription = await createTask(admin, { title: 'Zephyr two', description: 'review the ledgers' });
    await createTask(admin, { title: 'Zephyr one: review ledgers', description: 'first' });
    expect(await found('review ledgers')).toEqual(['Zephyr one: review ledgers', 'Zephyr two', 'Zephyr three']);
    // a comment's match adds to a task's own
    await comment(admin, inDescription.id, 'ledgers reviewed, ledgers reviewed');
    expect((await found('review ledgers'))[1]).toBe('Zephyr two');
    expect((await search(admin, 'search=review%20ledgers&ordering=created_at')).results.map((t) => t.title)).toEqual([
      'Zephyr three',
      'Zephyr two',
      'Zephyr one: review ledgers',
    ]);
  });

  it('follows a comment edited or deleted at once', async () => {
    const task = await createTask(admin, { title: 'Edited thread', description: '' });
    const id = await comment(admin, task.id, 'the walrus protocol');
    await comment(admin, task.id, 'a second comment');
    expect(await found('walrus')).toEqual(['Edited thread']);
    await onComment(admin, id, 'edit', 'the narwhal protocol');
    expect(await found('walrus')).toEqual([]);
    expect(await found('narwhal')).toEqual(['Edited thread']);
    await onComment(admin, id, 'delete');
    expect(await found('narwhal')).toEqual([]);
    expect(await found('second')).toEqual(['Edited thread']);
  });

  it('keeps both of two comments written on one task at once', async () => {
    const task = await createTask(admin, { title: 'Busy thread', description: '' });
    const companyId = admin.user.company.id;
    let firstWritten: () => void = () => {};
    const written = new Promise<void>((resolve) => {
      firstWritten = resolve;
    });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first transaction holds its comment uncommitted while the second writes its own.
    const first = ctx.db.tenant(companyId, async (tx) => {
      await tx.execute(sql`insert into comments (company_id, task_id, author_id, body)
        values (${companyId}, ${task.id}, ${admin.user.id}, 'ocelot')`);
      firstWritten();
      await held;
    });
    await written;
    const second = comment(member, task.id, 'pangolin');
    release();
    await Promise.all([first, second]);
    expect(await found('ocelot')).toEqual(['Busy thread']);
    expect(await found('pangolin')).toEqual(['Busy thread']);
  });

  it('never shows a private project’s task to an outsider through its comments', async () => {
    const project = json<{ id: number }>(
      await call(admin, 'POST', '/api/projects/', { name: 'Secret plans', is_private: true }),
    );
    const hidden = await createTask(admin, { title: 'Hidden one', project: project.id });
    await comment(admin, hidden.id, 'the capybara budget');
    const open = await createTask(admin, { title: 'Open one' });
    await comment(member, open.id, 'the capybara offsite');
    expect(await found('capybara', member)).toEqual(['Open one']);
    expect((await search(member, 'search=capybara')).count).toBe(1);
    expect((await found('capybara', admin)).sort()).toEqual(['Hidden one', 'Open one']);
    // and never another company's
    const other = await registerCompany(ctx.app);
    expect((await search(other, 'search=capybara')).count).toBe(0);
  });

  it('counts every match and pages through equal ranks stably, newest first then by id', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) {
      const task = await createTask(admin, { title: `Batch ${i}`, description: '' });
      await comment(admin, task.id, 'the wombat audit');
      ids.push(task.id);
    }
    const seen: number[] = [];
    for (const n of [1, 2, 3]) {
      const result = await search(admin, `search=wombat&page_size=10&page=${n}`);
      expect(result.count).toBe(25);
      seen.push(...result.results.map((t) => t.id));
    }
    // equal ranks: newest first, then by id, each task on exactly one page
    expect(seen).toEqual([...ids].reverse());
  });
});
