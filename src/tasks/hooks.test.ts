import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, registerCompany, type Session, TEST_DB, type TestContext } from '../../test/helpers.ts';
import { queryRows, type Tx } from '../platform/db/index.ts';
import { ExternalFeed, MemoryFeedCache } from './external.ts';
import type { TaskWrite, TaskWriteListener } from './hooks.ts';
import { TasksService } from './service.ts';

/** A listener that writes down what it hears, and whether the task row was visible to it then. */
function recorder(name: string, log: string[], ctx: TestContext): TaskWriteListener {
  const count = (tx: Tx, write: TaskWrite) =>
    queryRows<{ n: number }>(
      tx,
      sql`select count(*)::int as n from tasks where company_id = ${write.companyId} and id = ${(write.after ?? write.before)?.id}`,
    );
  return {
    async inTransaction(tx, writes) {
      for (const write of writes) log.push(`${name} in ${write.kind} rows=${(await count(tx, write))[0]?.n}`);
    },
    async afterCommit(writes) {
      // Committed: another transaction sees the write.
      for (const write of writes) {
        const [row] = await ctx.db.tenant(write.companyId, (tx) => count(tx, write));
        log.push(`${name} after ${write.kind} rows=${row?.n}`);
      }
    },
  };
}

describe(`task write listeners (${TEST_DB})`, () => {
  let ctx: TestContext;
  let admin: Session;
  beforeAll(async () => {
    ctx = await createTestContext();
    admin = await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  const feed = () => new ExternalFeed({ url: 'http://127.0.0.1:9/', timeoutMs: 1, cache: new MemoryFeedCache() });
  const auth = () => ({ companyId: admin.user.company.id, userId: admin.user.id });

  it('calls every listener in order, inside the transaction and then after the commit', async () => {
    const log: string[] = [];
    const service = new TasksService(ctx.db, feed(), [recorder('a', log, ctx), recorder('b', log, ctx)]);
    // Each write's after-commit work awaited before the next, so that the log has one order.
    const { task } = await service.create(auth(), { title: 'Heard' });
    await service.announced();
    await service.update(auth(), task.id, { title: 'Heard' });
    await service.update(auth(), task.id, { status: 'done' });
    await service.announced();
    await service.delete(auth(), task.id);
    await service.announced();
    expect(log).toEqual([
      'a in created rows=1',
      'b in created rows=1',
      'a after created rows=1',
      'b after created rows=1',
      // the update that changed nothing is heard by no one
      'a in updated rows=1',
      'b in updated rows=1',
      'a after updated rows=1',
      'b after updated rows=1',
      'a in deleted rows=0',
      'b in deleted rows=0',
      'a after deleted rows=0',
      'b after deleted rows=0',
    ]);
  });

  it('answers before the after-commit work, which runs in commit order per company', async () => {
    const log: string[] = [];
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let heardTheirs = () => {};
    const theirsHeard = new Promise<void>((resolve) => {
      heardTheirs = resolve;
    });
    const held: TaskWriteListener = {
      async afterCommit(writes) {
        for (const { companyId, after } of writes) {
          if (after?.title === 'First') await gate;
          const ours = companyId === auth().companyId;
          log.push(`${ours ? 'ours' : 'theirs'}: ${after?.title}`);
          if (!ours) heardTheirs();
        }
      },
    };
    const service = new TasksService(ctx.db, feed(), [held]);
    const { task } = await service.create(auth(), { title: 'Zero' });
    log.push('answered Zero');
    await service.update(auth(), task.id, { title: 'First' });
    await service.update(auth(), task.id, { title: 'Second' });
    log.push('answered Second');
    // Another company's work is not held behind ours.
    const other = await registerCompany(ctx.app);
    await service.create({ companyId: other.user.company.id, userId: other.user.id }, { title: 'Elsewhere' });
    await theirsHeard;
    open();
    await service.announced();
    expect(log).toEqual([
      'answered Zero',
      'ours: Zero',
      'answered Second',
      'theirs: Elsewhere',
      'ours: First',
      'ours: Second',
    ]);
  });

  it('makes a write wait for its after-commit work while too many are waiting', async () => {
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const held: TaskWriteListener = { afterCommit: () => gate };
    const service = new TasksService(ctx.db, feed(), [held], { error: () => {} }, 2);
    const { task } = await service.create(auth(), { title: 'Held 1' });
    await service.update(auth(), task.id, { title: 'Held 2' });
    let answered = false;
    const third = service.update(auth(), task.id, { title: 'Held 3' }).then(() => {
      answered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    open();
    await third;
    expect(answered).toBe(true);
    await service.announced();
  });

  it('logs after-commit work that fails, the write standing', async () => {
    const errors: unknown[] = [];
    const failing: TaskWriteListener = {
      afterCommit: async () => {
        throw new Error('bus gone');
      },
    };
    const service = new TasksService(ctx.db, feed(), [failing], { error: (context: unknown) => errors.push(context) });
    const { task } = await service.create(auth(), { title: 'Stands' });
    await service.announced();
    expect(errors).toEqual([{ err: new Error('bus gone') }]);
    expect((await service.get(auth(), task.id)).title).toBe('Stands');
  });

  it('rolls the write back when a listener throws inside the transaction, and tells no one after', async () => {
    const log: string[] = [];
    const failing: TaskWriteListener = {
      inTransaction: async () => {
        throw new Error('listener failed');
      },
    };
    const service = new TasksService(ctx.db, feed(), [recorder('a', log, ctx), failing]);
    const title = `Never written ${Date.now()}`;
    await expect(service.create(auth(), { title })).rejects.toThrow('listener failed');
    expect(log).toEqual(['a in created rows=1']);
    const [row] = await ctx.db.tenant(auth().companyId, (tx) =>
      queryRows<{ n: number }>(tx, sql`select count(*)::int as n from tasks where title = ${title}`),
    );
    expect(row?.n).toBe(0);
  });
});
