import { eq } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
import { schema } from '../platform/db/index.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });

const registration = (fields: Record<string, unknown> = {}) => {
  const username = unique('reg');
  return {
    username,
    email: `${username}@example.com`,
    password: PASSWORD,
    password_confirm: PASSWORD,
    first_name: 'Ada',
    last_name: 'Lovelace',
    company_name: unique('Company '),
    ...fields,
  };
};

describe('register', () => {
  it('creates a company whose admin the new user is, with tokens that work', async () => {
    const body = registration();
    const response = await post('/api/auth/register/', body);
    expect(response.statusCode).toBe(201);
    const session = json<Session & { user: Record<string, unknown> }>(response);
    expect(session.user).toEqual({
      id: expect.any(Number),
      username: body.username,
      email: body.email,
      first_name: 'Ada',
      last_name: 'Lovelace',
      role: 'admin',
      company: { id: expect.any(Number), name: body.company_name },
    });
    expect(JSON.stringify(session)).not.toMatch(/password|argon/i);
    const profile = await ctx.app.inject({ url: '/api/auth/profile/', headers: bearer(session.access) });
    expect(profile.statusCode).toBe(200);
    expect(json(profile)).toEqual(session.user);
  });

  it('refuses names taken in another letter case', async () => {
    const first = registration();
    expect((await post('/api/auth/register/', first)).statusCode).toBe(201);
    const again = await post(
      '/api/auth/register/',
      registration({
        username: first.username.toUpperCase(),
        email: first.email.toUpperCase(),
        company_name: first.company_name.toLowerCase(),
      }),
    );
    expect(again.statusCode).toBe(400);
    expect(json(again)).toEqual({
      username: ['A user with that username already exists.'],
      email: ['A user with that email already exists.'],
      company_name: ['A company with that name already exists.'],
    });
  });

  it('refuses weak passwords with Django’s messages', async () => {
    const cases: Array<[string, string]> = [
      ['short1', 'This password is too short. It must contain at least 8 characters.'],
      ['1234567890', 'This password is entirely numeric.'],
    ];
    for (const [password, message] of cases) {
      const response = await post('/api/auth/register/', registration({ password, password_confirm: password }));
      expect(response.statusCode).toBe(400);
      expect(json<Record<string, string[]>>(response).password).toContain(message);
    }
    const same = registration();
    const response = await post('/api/auth/register/', {
      ...same,
      password: same.username,
      password_confirm: same.username,
    });
    expect(json<Record<string, string[]>>(response).password).toContain('The password is too similar to the username.');
  });

  it('reports each invalid field in DRF’s shape', async () => {
    const response = await post('/api/auth/register/', {
      username: 'bad name!',
      email: 'not-an-email',
      password: PASSWORD,
      password_confirm: 'different-password',
      company_name: 'x'.repeat(201),
    });
    expect(response.statusCode).toBe(400);
    const errors = json<Record<string, string[]>>(response);
    expect(errors.username?.[0]).toMatch(/valid username/);
    expect(errors.email).toEqual(['Enter a valid email address.']);
    expect(errors.company_name).toEqual(['Ensure this field has no more than 200 characters.']);

    const missing = await post('/api/auth/register/', {});
    expect(json(missing)).toMatchObject({
      username: ['This field is required.'],
      email: ['This field is required.'],
      password: ['This field is required.'],
    });
    const mismatch = await post('/api/auth/register/', registration({ password_confirm: 'another-password-1' }));
    expect(json(mismatch)).toEqual({ password_confirm: ["Password fields didn't match."] });
    const wrongTypes = await post('/api/auth/register/', registration({ username: { $ne: 1 }, email: ['a'] }));
    expect(wrongTypes.statusCode).toBe(400);
  });

  it('needs exactly one of company_name and invitation_token', async () => {
    const neither = await post('/api/auth/register/', registration({ company_name: undefined }));
    expect(neither.statusCode).toBe(400);
    expect(json(neither)).toHaveProperty('non_field_errors');
    const both = await post('/api/auth/register/', registration({ invitation_token: 'abc' }));
    expect(both.statusCode).toBe(400);
    expect(json(both)).toHaveProperty('non_field_errors');
  });

  it('lets exactly one of 20 parallel registrations of one username through', async () => {
    const username = unique('race');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post('/api/auth/register/', registration({ username, email: `${username}-${i}@example.com` })),
      ),
    );
    const codes = responses.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 400)).toHaveLength(19);
    for (const r of responses.filter((x) => x.statusCode === 400)) {
      expect(json(r)).toEqual({ username: ['A user with that username already exists.'] });
    }
  });

  it('lets exactly one of parallel registrations of one company name through', async () => {
    const company_name = unique('Race Co ');
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => post('/api/auth/register/', registration({ company_name }))),
    );
    expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(1);
  });
});

describe('login', () => {
  let session: Session;
  beforeAll(async () => {
    session = await registerCompany(ctx.app);
  });

  it('accepts a username or an email address, in any letter case', async () => {
    for (const name of [session.user.username, session.user.email, session.user.email.toUpperCase()]) {
      const response = await post('/api/auth/login/', { username: name, password: PASSWORD });
      expect(response.statusCode).toBe(200);
      expect(Object.keys(json(response)).sort()).toEqual(['access', 'refresh']);
    }
  });

  it('answers 401 alike for a wrong password and an unknown user', async () => {
    const wrong = await post('/api/auth/login/', { username: session.user.username, password: 'wrong-password' });
    const unknown = await post('/api/auth/login/', { username: 'nobody-here', password: 'wrong-password' });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(json(wrong)).toEqual({ detail: 'No active account found with the given credentials' });
    expect(json(unknown)).toEqual(json(wrong));
  });

  it('validates its body', async () => {
    const response = await post('/api/auth/login/', { username: '' });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({
      username: ['This field may not be blank.'],
      password: ['This field is required.'],
    });
  });
});

describe('tokens', () => {
  let session: Session;
  beforeAll(async () => {
    session = await registerCompany(ctx.app);
  });
  const profile = (token: string) => ctx.app.inject({ url: '/api/auth/profile/', headers: bearer(token) });
  const secret = () => new TextEncoder().encode(ctx.config.jwtSecret);
  const claims = () => ({ token_type: 'access', user_id: session.user.id, company_id: session.user.company.id });

  it('refuses requests without credentials, with a bad header, or with a bad token', async () => {
    const none = await ctx.app.inject({ url: '/api/auth/profile/' });
    expect(none.statusCode).toBe(401);
    expect(json(none)).toEqual({ detail: 'Authentication credentials were not provided.' });
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const malformed = await ctx.app.inject({ url: '/api/auth/profile/', headers: { authorization: 'Token abc' } });
    expect(malformed.statusCode).toBe(401);
    expect((await profile('not.a.jwt')).statusCode).toBe(401);
  });

  it('refuses an expired token', async () => {
    const expired = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret());
    const response = await profile(expired);
    expect(response.statusCode).toBe(401);
    expect(json(response)).toMatchObject({ code: 'token_not_valid' });
  });

  it('refuses a token it has accepted once it has expired', async () => {
    const shortLived = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 5)
      .sign(secret());
    expect((await profile(shortLived)).statusCode).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 6000);
      const response = await profile(shortLived);
      expect(response.statusCode).toBe(401);
      expect(json(response)).toMatchObject({ code: 'token_not_valid', messages: [{ message: 'Token is expired' }] });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a token signed with another secret, or forged', async () => {
    const other = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('another-secret-of-sufficient-length-0123456789'));
    expect((await profile(other)).statusCode).toBe(401);
    // A real token with its payload changed to another user: the signature no longer matches.
    const [header, , signature] = session.access.split('.');
    const payload = Buffer.from(
      JSON.stringify({ ...claims(), user_id: session.user.id + 1, exp: 9999999999 }),
    ).toString('base64url');
    expect((await profile(`${header}.${payload}.${signature}`)).statusCode).toBe(401);
  });

  it('refuses alg none', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ ...claims(), exp: 9999999999 })).toString('base64url');
    expect((await profile(`${header}.${payload}.`)).statusCode).toBe(401);
  });

  it('never takes a refresh token as an access token, nor the reverse', async () => {
    const asAccess = await profile(session.refresh);
    expect(asAccess.statusCode).toBe(401);
    const asRefresh = await post('/api/auth/token/refresh/', { refresh: session.access });
    expect(asRefresh.statusCode).toBe(401);
    expect(json(asRefresh)).toMatchObject({ code: 'token_not_valid' });
  });

  it('rotates the refresh token; reuse of a spent one revokes its whole family', async () => {
    const login = json<{ access: string; refresh: string }>(
      await post('/api/auth/login/', { username: session.user.username, password: PASSWORD }),
    );
    const first = await post('/api/auth/token/refresh/', { refresh: login.refresh });
    expect(first.statusCode).toBe(200);
    const rotated = json<{ access: string; refresh: string }>(first);
    expect(rotated.refresh).not.toBe(login.refresh);
    expect((await profile(rotated.access)).statusCode).toBe(200);

    // the stolen original comes back: refused, and the thief's and the owner's tokens die with it
    const reuse = await post('/api/auth/token/refresh/', { refresh: login.refresh });
    expect(reuse.statusCode).toBe(401);
    const afterTheft = await post('/api/auth/token/refresh/', { refresh: rotated.refresh });
    expect(afterTheft.statusCode).toBe(401);
    expect(json(afterTheft)).toMatchObject({ code: 'token_not_valid' });

    // other logins of the same user are another family and keep working
    expect((await post('/api/auth/token/refresh/', { refresh: session.refresh })).statusCode).toBe(200);
  });

  it('lets only one of two simultaneous refreshes of one token succeed', async () => {
    const login = json<{ refresh: string }>(
      await post('/api/auth/login/', { username: session.user.username, password: PASSWORD }),
    );
    const results = await Promise.all([
      post('/api/auth/token/refresh/', { refresh: login.refresh }),
      post('/api/auth/token/refresh/', { refresh: login.refresh }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401]);
  });

  it('logs out: the family is revoked', async () => {
    const login = json<{ refresh: string }>(
      await post('/api/auth/login/', { username: session.user.username, password: PASSWORD }),
    );
    const rotated = json<{ refresh: string }>(await post('/api/auth/token/refresh/', { refresh: login.refresh }));
    const logout = await post('/api/auth/logout/', { refresh: rotated.refresh });
    expect(logout.statusCode).toBe(204);
    expect(logout.body).toBe('');
    expect((await post('/api/auth/token/refresh/', { refresh: rotated.refresh })).statusCode).toBe(401);
    expect((await post('/api/auth/logout/', { refresh: 'garbage' })).statusCode).toBe(401);
  });
});

describe('profile', () => {
  it('changes names and email, nothing else', async () => {
    const session = await registerCompany(ctx.app);
    const email = `${unique('new')}@example.com`;
    const response = await ctx.app.inject({
      method: 'PATCH',
      url: '/api/auth/profile/',
      headers: bearer(session.access),
      payload: { first_name: 'Grace', email, role: 'admin', username: 'changed', id: 999 },
    });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({
      first_name: 'Grace',
      email,
      username: session.user.username,
      id: session.user.id,
    });
  });

  it('refuses an email another user has, in any letter case', async () => {
    const a = await registerCompany(ctx.app);
    const b = await registerCompany(ctx.app);
    const response = await ctx.app.inject({
      method: 'PATCH',
      url: '/api/auth/profile/',
      headers: bearer(b.access),
      payload: { email: a.user.email.toUpperCase() },
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({ email: ['A user with that email already exists.'] });
    const bad = await ctx.app.inject({
      method: 'PATCH',
      url: '/api/auth/profile/',
      headers: bearer(b.access),
      payload: { email: 'nope' },
    });
    expect(json(bad)).toEqual({ email: ['Enter a valid email address.'] });
  });
});

describe('invitations and company users', () => {
  let admin: Session;
  beforeAll(async () => {
    admin = await registerCompany(ctx.app);
  });
  const invite = (session: Session, payload: Record<string, unknown>) =>
    post('/api/auth/invitations/', payload, bearer(session.access));

  it('lets an admin invite; the invitee joins as a member of that company', async () => {
    const email = `${unique('inv')}@example.com`;
    const response = await invite(admin, { email });
    expect(response.statusCode).toBe(201);
    const invitation = json<{ id: number; email: string; role: string; token: string; expires_at: string }>(response);
    expect(invitation).toEqual({
      id: expect.any(Number),
      email,
      role: 'member',
      token: expect.any(String),
      expires_at: expect.any(String),
    });
    const days = (Date.parse(invitation.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const joined = await post('/api/auth/register/', {
      ...registration({ email, company_name: undefined }),
      invitation_token: invitation.token,
    });
    expect(joined.statusCode).toBe(201);
    expect(json<Session>(joined).user).toMatchObject({ role: 'member', company: admin.user.company });

    const again = await post('/api/auth/register/', {
      ...registration({ email: `${unique('x')}@example.com`, company_name: undefined }),
      invitation_token: invitation.token,
    });
    expect(again.statusCode).toBe(400);
    expect(json(again)).toEqual({ invitation_token: ['This invitation has already been used.'] });
  });

  it('refuses an invitation used by another email address, or unknown', async () => {
    const invitation = json<{ token: string }>(await invite(admin, { email: `${unique('inv')}@example.com` }));
    const other = await post('/api/auth/register/', {
      ...registration({ company_name: undefined }),
      invitation_token: invitation.token,
    });
    expect(other.statusCode).toBe(400);
    expect(json(other)).toEqual({ email: ['This invitation was sent to another email address.'] });
    const unknown = await post('/api/auth/register/', {
      ...registration({ company_name: undefined }),
      invitation_token: 'made-up',
    });
    expect(json(unknown)).toEqual({ invitation_token: ['This invitation is not valid.'] });
  });

  it('gives the invitation’s role', async () => {
    const member = await addMember(ctx.app, admin, 'admin');
    expect(member.user.role).toBe('admin');
  });

  it('forbids members to invite (403)', async () => {
    const member = await addMember(ctx.app, admin);
    const response = await invite(member, { email: `${unique('x')}@example.com` });
    expect(response.statusCode).toBe(403);
    expect(json(response)).toHaveProperty('detail');
    const list = await ctx.app.inject({ url: '/api/auth/invitations/', headers: bearer(member.access) });
    expect(list.statusCode).toBe(403);
  });

  it('validates the invitation', async () => {
    const response = await invite(admin, { email: 'nope', role: 'owner' });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ email: ['Enter a valid email address.'] });
    expect(json<Record<string, string[]>>(response).role).toBeDefined();
    const member = await addMember(ctx.app, admin);
    const existing = await invite(admin, { email: member.user.email });
    expect(existing.statusCode).toBe(400);
  });

  it('lists and withdraws pending invitations', async () => {
    const company = await registerCompany(ctx.app);
    const created = json<{ id: number; email: string }>(await invite(company, { email: `${unique('p')}@example.com` }));
    const list = await ctx.app.inject({ url: '/api/auth/invitations/', headers: bearer(company.access) });
    expect(json<{ count: number; results: Array<{ id: number }> }>(list)).toMatchObject({
      count: 1,
      results: [{ id: created.id, email: created.email, role: 'member' }],
    });
    expect(JSON.stringify(json(list))).not.toContain('token');
    const other = await registerCompany(ctx.app);
    const foreign = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/auth/invitations/${created.id}/`,
      headers: bearer(other.access),
    });
    expect(foreign.statusCode).toBe(404);
    const withdrawn = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/auth/invitations/${created.id}/`,
      headers: bearer(company.access),
    });
    expect(withdrawn.statusCode).toBe(204);
  });

  it('lists the users of the caller’s company only, paginated like DRF', async () => {
    const company = await registerCompany(ctx.app);
    for (let i = 0; i < 3; i++) await addMember(ctx.app, company);
    await registerCompany(ctx.app);
    const page1 = await ctx.app.inject({
      url: '/api/auth/company-users/?page_size=3',
      headers: { ...bearer(company.access), host: 'tasks.example' },
    });
    expect(page1.statusCode).toBe(200);
    const body = json<{ count: number; next: string | null; previous: string | null; results: Session['user'][] }>(
      page1,
    );
    expect(body.count).toBe(4);
    expect(body.results).toHaveLength(3);
    expect(body.results.every((u) => u.company.id === company.user.company.id)).toBe(true);
    expect(body.next).toBe('http://tasks.example/api/auth/company-users/?page_size=3&page=2');
    expect(body.previous).toBeNull();
    const page2 = json<typeof body>(
      await ctx.app.inject({ url: body.next as string, headers: { ...bearer(company.access), host: 'tasks.example' } }),
    );
    expect(page2.results).toHaveLength(1);
    expect(page2.next).toBeNull();
    expect(page2.previous).toBe('http://tasks.example/api/auth/company-users/?page_size=3');

    const past = await ctx.app.inject({ url: '/api/auth/company-users/?page=9', headers: bearer(company.access) });
    expect(past.statusCode).toBe(404);
    expect(json(past)).toEqual({ detail: 'Invalid page.' });
    const capped = json<typeof body>(
      await ctx.app.inject({ url: '/api/auth/company-users/?page_size=1000', headers: bearer(company.access) }),
    );
    expect(capped.results).toHaveLength(4);
    const garbage = await ctx.app.inject({ url: '/api/auth/company-users/?page=abc', headers: bearer(company.access) });
    expect(garbage.statusCode).toBe(404);
  });
});

describe('team management', () => {
  const patchRole = (session: Session, id: number, role: string) =>
    ctx.app.inject({
      method: 'PATCH',
      url: `/api/auth/company-users/${id}/`,
      headers: bearer(session.access),
      payload: { role },
    });
  const remove = (session: Session, id: number) =>
    ctx.app.inject({ method: 'DELETE', url: `/api/auth/company-users/${id}/`, headers: bearer(session.access) });

  it('lets an admin change roles, keeping at least one admin', async () => {
    const admin = await registerCompany(ctx.app);
    const member = await addMember(ctx.app, admin);
    const promoted = await patchRole(admin, member.user.id, 'admin');
    expect(promoted.statusCode).toBe(200);
    expect(json(promoted)).toMatchObject({ id: member.user.id, role: 'admin' });
    expect((await patchRole(admin, member.user.id, 'member')).statusCode).toBe(200);
    const last = await patchRole(admin, admin.user.id, 'member');
    expect(last.statusCode).toBe(400);
    expect(json(last)).toEqual({ role: ['The company must keep at least one admin.'] });
    expect((await patchRole(admin, member.user.id, 'owner')).statusCode).toBe(400);
    expect((await patchRole(member, admin.user.id, 'member')).statusCode).toBe(403);
  });

  it('lets an admin remove someone: their tokens stop working at once', async () => {
    const admin = await registerCompany(ctx.app);
    const member = await addMember(ctx.app, admin);
    expect((await remove(member, admin.user.id)).statusCode).toBe(403);
    expect((await remove(admin, admin.user.id)).statusCode).toBe(400);
    expect((await remove(admin, member.user.id)).statusCode).toBe(204);
    const profile = await ctx.app.inject({ url: '/api/auth/profile/', headers: bearer(member.access) });
    expect(profile.statusCode).toBe(401);
    expect((await post('/api/auth/token/refresh/', { refresh: member.refresh })).statusCode).toBe(401);
    expect((await post('/api/auth/login/', { username: member.user.username, password: PASSWORD })).statusCode).toBe(
      401,
    );
    const users = json<{ count: number }>(
      await ctx.app.inject({ url: '/api/auth/company-users/', headers: bearer(admin.access) }),
    );
    expect(users.count).toBe(1);
    expect((await remove(admin, member.user.id)).statusCode).toBe(404);
  });

  it('cannot reach another company’s people', async () => {
    const admin = await registerCompany(ctx.app);
    const stranger = await registerCompany(ctx.app);
    expect((await remove(admin, stranger.user.id)).statusCode).toBe(404);
    expect((await patchRole(admin, stranger.user.id, 'member')).statusCode).toBe(404);
    const still = await ctx.app.inject({ url: '/api/auth/profile/', headers: bearer(stranger.access) });
    expect(json(still)).toMatchObject({ role: 'admin' });
  });
});

describe('an expired invitation', () => {
  it('is refused, and no longer listed as pending', async () => {
    const admin = await registerCompany(ctx.app);
    const email = `${unique('late')}@example.com`;
    const invitation = json<{ id: number; token: string }>(
      await post('/api/auth/invitations/', { email }, bearer(admin.access)),
    );
    // eight days later
    await ctx.db.unsafeSystem((tx) =>
      tx
        .update(schema.invitations)
        .set({ expiresAt: new Date(Date.now() - 86_400_000) })
        .where(eq(schema.invitations.id, invitation.id)),
    );
    const joined = await post('/api/auth/register/', {
      ...registration({ email, company_name: undefined }),
      invitation_token: invitation.token,
    });
    expect(joined.statusCode).toBe(400);
    expect(json(joined)).toEqual({ invitation_token: ['This invitation has expired.'] });
    const pending = await ctx.app.inject({ url: '/api/auth/invitations/', headers: bearer(admin.access) });
    expect(json(pending)).toMatchObject({ count: 0 });
  });
});

describe('an invitation read by its token', () => {
  const read = (token: string) =>
    ctx.app.inject({ url: `/api/auth/invitations/preview/?token=${encodeURIComponent(token)}` });
  const inviteTo = async (admin: Session, role = 'member') => {
    const email = `${unique('look')}@example.com`;
    const created = json<{ id: number; token: string }>(
      await post('/api/auth/invitations/', { email, role }, bearer(admin.access)),
    );
    return { ...created, email };
  };

  it('names the company, the invited address and the role, to anyone holding the link', async () => {
    const admin = await registerCompany(ctx.app);
    const invitation = await inviteTo(admin, 'admin');
    const answer = await read(invitation.token);
    expect(answer.statusCode).toBe(200);
    expect(json(answer)).toEqual({
      company: { name: admin.user.company.name },
      email: invitation.email,
      role: 'admin',
    });
  });

  it('is not found once used, revoked or expired, nor for a token never given', async () => {
    const admin = await registerCompany(ctx.app);
    const used = await inviteTo(admin);
    const joined = await post('/api/auth/register/', {
      ...registration({ email: used.email, company_name: undefined }),
      invitation_token: used.token,
    });
    expect(joined.statusCode).toBe(201);
    const revoked = await inviteTo(admin);
    const withdrawn = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/auth/invitations/${revoked.id}/`,
      headers: bearer(admin.access),
    });
    expect(withdrawn.statusCode).toBe(204);
    const expired = await inviteTo(admin);
    await ctx.db.unsafeSystem((tx) =>
      tx
        .update(schema.invitations)
        .set({ expiresAt: new Date(Date.now() - 1_000) })
        .where(eq(schema.invitations.id, expired.id)),
    );
    for (const token of [used.token, revoked.token, expired.token, 'made-up', '1']) {
      const answer = await read(token);
      expect(answer.statusCode, token).toBe(404);
      expect(json(answer)).toEqual({ detail: 'Not found.' });
    }
  });
});
