import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createTestContext,
  registerCompany,
  TEST_DB,
  type TestContext,
} from '../../test/helpers.ts';
import { createMaintenanceQueues } from './jobs.ts';
import { MaintenanceWorker } from './worker.ts';

describe(`maintenance purge (${TEST_DB})`, () => {
  let ctx: TestContext;
  let worker: MaintenanceWorker;

  beforeAll(async () => {
    ctx = await createTestContext();
    await createMaintenanceQueues(ctx.jobs);
    worker = new MaintenanceWorker(ctx.db, ctx.jobs, { info: () => undefined });
  });
  afterAll(() => ctx.close());

  it('purges expired refresh tokens, invitations and idempotency keys, and keeps the rest', async () => {
    const admin = await registerCompany(ctx.app);
    const other = await addMember(ctx.app, admin);
    const call = (method: 'POST', url: string, payload: object, headers: Record<string, string> = {}) =>
      ctx.app.inject({ method, url, headers: { ...bearer(admin.access), ...headers }, payload });
    expect((await call('POST', '/api/auth/invitations/', { email: 'late@example.com' })).statusCode).toBe(201);
    expect((await call('POST', '/api/tasks/', { title: 'Old' }, { 'idempotency-key': 'old-key' })).statusCode).toBe(
      201,
    );
    expect((await call('POST', '/api/tasks/', { title: 'New' }, { 'idempotency-key': 'new-key' })).statusCode).toBe(
      201,
    );
    await ctx.db.unsafeSystem(async (tx) => {
      await tx.execute(
        sql`update invitations set expires_at = now() - interval '1 day' where email = 'late@example.com'`,
      );
      await tx.execute(
        sql`update refresh_tokens set expires_at = now() - interval '1 second' where user_id = ${other.user.id} and company_id = ${other.user.company.id}`,
      );
      await tx.execute(
        sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'old-key' and user_id = ${admin.user.id}`,
      );
    });
    const purged = await worker.purge();
    expect(purged.invitations).toBe(1);
    expect(purged.refreshTokens).toBeGreaterThanOrEqual(1);
    expect(purged.idempotencyKeys).toBeGreaterThanOrEqual(1);
    // the admin's session and recent key are untouched
    expect((await call('POST', '/api/auth/token/refresh/', { refresh: admin.refresh })).statusCode).toBe(200);
    const replay = await call('POST', '/api/tasks/', { title: 'New' }, { 'idempotency-key': 'new-key' });
    expect(replay.statusCode).toBe(201);
    const again = await call('POST', '/api/tasks/', { title: 'New' }, { 'idempotency-key': 'new-key' });
    expect(again.json()).toEqual(replay.json());
  });
});
