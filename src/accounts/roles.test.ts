import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createTestContext,
  json,
  PASSWORD,
  registerCompany,
  type Session,
  type TestContext,
  unique,
} from '../../test/helpers.ts';
import { users } from '../platform/db/schema.ts';

/** The rules around admins, identifiers and passwords that a security review found broken. */
describe('accounts and roles', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  const call = (session: Session, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(session.access), payload });

  const invite = async (admin: Session, role: 'admin' | 'member') => {
    const email = `${unique('throwaway')}@example.com`;
    const response = await call(admin, 'POST', '/api/auth/invitations/', { email, role });
    expect(response.statusCode).toBe(201);
    return { email, token: json<{ token: string }>(response).token };
  };

  const registerWith = (invitation: { email: string; token: string }) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/auth/register/',
      payload: {
        username: unique('joiner'),
        email: invitation.email,
        password: PASSWORD,
        password_confirm: PASSWORD,
        invitation_token: invitation.token,
      },
    });

  it('revokes the pending invitations of an admin who is removed or demoted', async () => {
    const owner = await registerCompany(ctx.app);
    for (const change of ['remove', 'demote'] as const) {
      const other = await addMember(ctx.app, owner, 'admin');
      const invitation = await invite(other, 'admin');
      const changed =
        change === 'remove'
          ? await call(owner, 'DELETE', `/api/auth/company-users/${other.user.id}/`)
          : await call(owner, 'PATCH', `/api/auth/company-users/${other.user.id}/`, { role: 'member' });
      expect(changed.statusCode).toBe(change === 'remove' ? 204 : 200);
      const pending = json<{ results: { email: string }[] }>(await call(owner, 'GET', '/api/auth/invitations/'));
      expect(pending.results.map((r) => r.email)).not.toContain(invitation.email);
      const registered = await registerWith(invitation);
      expect([change, registered.statusCode, json(registered)]).toEqual([
        change,
        400,
        { invitation_token: ['This invitation is not valid.'] },
      ]);
    }
    // The owner's own invitations are untouched.
    const kept = await invite(owner, 'member');
    expect((await registerWith(kept)).statusCode).toBe(201);
  });

  it('voids an invitation whose sender is no longer an admin, even one sent before revocation existed', async () => {
    const owner = await registerCompany(ctx.app);
    const other = await addMember(ctx.app, owner, 'admin');
    const invitation = await invite(other, 'member');
    const preview = () =>
      ctx.app.inject({ url: `/api/auth/invitations/preview/?token=${encodeURIComponent(invitation.token)}` });
    expect((await preview()).statusCode).toBe(200);
    // Demoted behind the service's back, as before invitations were revoked with their sender's role.
    await ctx.db.unsafeSystem((tx) => tx.update(users).set({ role: 'member' }).where(eq(users.id, other.user.id)));
    expect((await preview()).statusCode).toBe(404);
    expect((await registerWith(invitation)).statusCode).toBe(400);
  });

  it('keeps one admin when two admins demote or remove each other at the same moment', async () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const a = await registerCompany(ctx.app);
      const b = await addMember(ctx.app, a, 'admin');
      const remove = attempt % 2 === 1;
      const against = (actor: Session, target: Session) =>
        remove
          ? call(actor, 'DELETE', `/api/auth/company-users/${target.user.id}/`)
          : call(actor, 'PATCH', `/api/auth/company-users/${target.user.id}/`, { role: 'member' });
      const answers = await Promise.all([against(a, b), against(b, a)]);
      const succeeded = answers.filter((r) => r.statusCode < 300).length;
      expect([remove, succeeded]).toEqual([remove, 1]);
      const admins = await ctx.db.unsafeSystem((tx) =>
        tx.select({ id: users.id }).from(users).where(eq(users.companyId, a.user.company.id)),
      );
      const state = await ctx.db.unsafeSystem((tx) =>
        tx
          .select({ role: users.role, active: users.isActive })
          .from(users)
          .where(eq(users.companyId, a.user.company.id)),
      );
      expect(admins.length).toBe(2);
      expect(state.filter((u) => u.active && u.role === 'admin')).toHaveLength(1);
    }
  });

  it('lets no username or email equal another user’s username or email, in any letter case', async () => {
    const address = `${unique('newhire')}@corp.test`;
    const squatter = await registerCompany(ctx.app, { username: address, email: `${unique('sq')}@example.com` });
    const real = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/register/',
      payload: {
        username: unique('newhire'),
        email: address.toUpperCase(),
        password: PASSWORD,
        password_confirm: PASSWORD,
        company_name: unique('Corp '),
      },
    });
    expect([real.statusCode, json(real)]).toEqual([400, { email: ['A user with that email already exists.'] }]);

    const holder = await registerCompany(ctx.app);
    const asUsername = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/register/',
      payload: {
        username: holder.user.email.toUpperCase(),
        email: `${unique('other')}@example.com`,
        password: PASSWORD,
        password_confirm: PASSWORD,
        company_name: unique('Corp '),
      },
    });
    expect([asUsername.statusCode, json(asUsername)]).toEqual([
      400,
      { username: ['A user with that username already exists.'] },
    ]);

    // Nor by changing one's email afterwards; one's own email stays one's own.
    const changed = await call(holder, 'PATCH', '/api/auth/profile/', { email: squatter.user.username });
    expect([changed.statusCode, json(changed)]).toEqual([400, { email: ['A user with that email already exists.'] }]);
    const same = await call(holder, 'PATCH', '/api/auth/profile/', { email: holder.user.email.toUpperCase() });
    expect(same.statusCode).toBe(200);
  });

  it('resolves a login to one person, by username first, when old rows collide', async () => {
    const older = await registerCompany(ctx.app);
    const newer = await registerCompany(ctx.app);
    // A collision the rules now refuse, as data from before them may hold: the older account's
    // email is the newer one's username.
    await ctx.db.unsafeSystem((tx) =>
      tx.update(users).set({ email: newer.user.username }).where(eq(users.id, older.user.id)),
    );
    for (let i = 0; i < 3; i++) {
      const login = await ctx.app.inject({
        method: 'POST',
        url: '/api/auth/login/',
        payload: { username: newer.user.username, password: PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      const profile = await ctx.app.inject({
        url: '/api/auth/profile/',
        headers: bearer(json<{ access: string }>(login).access),
      });
      expect(json<{ id: number }>(profile).id).toBe(newer.user.id);
    }
  });

  it('refuses common passwords and ones too close to the person, naming the rule', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['password', {}, 'This password is too common.'],
      ['qwerty123', {}, 'This password is too common.'],
      ['iloveyou1', {}, 'This password is too common.'],
      ['football', {}, 'This password is too common.'],
      ['Gwendolyne1', { first_name: 'Gwendolyne' }, 'The password is too similar to the first name.'],
      ['Featherstonehaugh', { last_name: 'Featherstonehaugh' }, 'The password is too similar to the last name.'],
      ['zanzibar-mail9', { email: 'zanzibar.mail@example.com' }, 'The password is too similar to the email address.'],
    ];
    for (const [password, fields, message] of cases) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/api/auth/register/',
        payload: {
          username: unique('pw'),
          email: `${unique('pw')}@example.com`,
          password,
          password_confirm: password,
          company_name: unique('Pw '),
          ...fields,
        },
      });
      expect([password, response.statusCode, json<{ password: string[] }>(response).password]).toEqual([
        password,
        400,
        [message],
      ]);
    }
  });

  it('shows a deleted task’s emails to admins only, as its history', async () => {
    const admin = await registerCompany(ctx.app);
    const member = await addMember(ctx.app, admin);
    const created = await call(admin, 'POST', '/api/tasks/', { title: 'to go', assigned_to: member.user.id });
    const id = json<{ id: number }>(created).id;
    const before = await call(member, 'GET', `/api/tasks/${id}/notifications/`);
    expect([before.statusCode, json<{ count: number }>(before).count]).toEqual([200, 1]);
    expect((await call(admin, 'DELETE', `/api/tasks/${id}/`)).statusCode).toBe(204);
    for (const kind of ['history', 'notifications']) {
      const asMember = await call(member, 'GET', `/api/tasks/${id}/${kind}/`);
      const asAdmin = await call(admin, 'GET', `/api/tasks/${id}/${kind}/`);
      expect([kind, asMember.statusCode, asAdmin.statusCode]).toEqual([kind, 404, 200]);
    }
  });

  it('lets an admin invite a guest, who joins as a guest and is not shown the company’s users', async () => {
    const owner = await registerCompany(ctx.app);
    const guest = await addMember(ctx.app, owner, 'guest');
    expect(guest.user.role).toBe('guest');
    expect(json(await call(guest, 'GET', '/api/auth/profile/'))).toMatchObject({ role: 'guest' });
    const listed = await call(guest, 'GET', '/api/auth/company-users/');
    expect([listed.statusCode, json(listed)]).toEqual([403, { detail: expect.any(String) }]);
    expect((await call(owner, 'GET', '/api/auth/company-users/')).statusCode).toBe(200);
    // An admin can make a member a guest and back.
    const member = await addMember(ctx.app, owner);
    const changed = await call(owner, 'PATCH', `/api/auth/company-users/${member.user.id}/`, { role: 'guest' });
    expect(json(changed)).toMatchObject({ role: 'guest' });
    expect((await call(member, 'GET', '/api/auth/company-users/')).statusCode).toBe(403);
  });
});
