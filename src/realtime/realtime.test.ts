import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  addMember,
  bearer,
  createTestContext,
  json,
  registerCompany,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { until } from '../../test/timing.ts';
import { TestSocket } from '../../test/ws.ts';

async function listen(ctx: TestContext): Promise<string> {
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ctx.app.server.address() as { port: number };
  return `ws://127.0.0.1:${port}/ws/tasks/`;
}

describe('the /ws/tasks/ socket', () => {
  let ctx: TestContext;
  let url: string;
  let admin: Session;
  beforeAll(async () => {
    ctx = await createTestContext({ wsPingIntervalMs: 300 });
    url = await listen(ctx);
    admin = await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  it('welcomes a client authenticated by header or by ?token=', async () => {
    for (const via of ['header', 'query'] as const) {
      const client = await TestSocket.open(url, { token: admin.access, via });
      expect(await client.ofType('connection_established')).toEqual({
        type: 'connection_established',
        message: `Connected to ${admin.user.company.name} task updates`,
      });
      client.close();
    }
  });

  it('refuses the upgrade with 401 without a token, with a bad one, or with a refresh token', async () => {
    await expect(TestSocket.open(url)).rejects.toThrow('HTTP 401');
    await expect(TestSocket.open(url, { token: 'not-a-token' })).rejects.toThrow('HTTP 401');
    await expect(TestSocket.open(url, { token: admin.refresh, via: 'query' })).rejects.toThrow('HTTP 401');
  });

  it('answers ping with pong, and bad frames with an error while staying open', async () => {
    const client = await TestSocket.open(url, { token: admin.access });
    await client.ofType('connection_established');
    client.send({ type: 'ping' });
    expect(await client.ofType('pong')).toEqual({ type: 'pong', message: 'Connection alive' });
    client.send('this is not json');
    expect(await client.next((m) => m.type === 'error')).toMatchObject({ detail: expect.any(String) });
    client.send({ type: 'dance' });
    expect(await client.next((m) => m.type === 'error' && String(m.detail).includes('dance'))).toBeDefined();
    client.send([1, 2]);
    client.send({ type: 'ping' });
    await client.next(() => client.messages.filter((m) => m.type === 'pong').length === 2);
    expect(client.messages.filter((m) => m.type === 'error')).toHaveLength(3);
    expect(client.closed).toBeUndefined();
    client.close();
  });

  it('drops a client that does not answer the server’s pings, and keeps one that does', async () => {
    const healthy = await TestSocket.open(url, { token: admin.access });
    const mute = new WebSocket(url, { headers: bearer(admin.access), autoPong: false });
    const closed = new Promise<number>((resolve) => mute.once('close', (code) => resolve(code)));
    expect(await closed).toBe(1006);
    expect(healthy.closed).toBeUndefined();
    healthy.close();
  });

  it('accepts a renewed token, and refuses one of another user', async () => {
    const client = await TestSocket.open(url, { token: admin.access });
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/token/refresh/',
      payload: { refresh: admin.refresh },
    });
    const renewed = json<{ access: string; refresh: string }>(login);
    admin = { ...admin, ...renewed };
    client.send({ type: 'authenticate', token: renewed.access });
    expect(await client.ofType('authenticated')).toMatchObject({ expires_at: expect.any(String) });
    const other = await registerCompany(ctx.app);
    client.send({ type: 'authenticate', token: other.access });
    expect(await client.next((m) => m.type === 'error' && String(m.detail).includes('another user'))).toBeDefined();
    client.send({ type: 'authenticate', token: 'garbage' });
    await client.next(() => client.messages.filter((m) => m.type === 'error').length === 2);
    expect(client.closed).toBeUndefined();
    client.close();
  });
});

describe('token expiry on an open socket', () => {
  let ctx: TestContext;
  let url: string;
  beforeAll(async () => {
    ctx = await createTestContext({ accessTokenTtlSeconds: 2 });
    url = await listen(ctx);
  });
  afterAll(() => ctx.close());

  it('says token_expired and closes with 4401 when the token runs out', async () => {
    const session = await registerCompany(ctx.app);
    const client = await TestSocket.open(url, { token: session.access });
    await client.ofType('token_expired', 4_000);
    expect((await client.waitClosed()).code).toBe(4401);
  });

  it('keeps a socket whose client renewed its token in time', async () => {
    const session = await registerCompany(ctx.app);
    const client = await TestSocket.open(url, { token: session.access });
    // The same token on a socket that does not renew it: told when the first token runs out.
    const lapsing = await TestSocket.open(url, { token: session.access });
    // Tokens expire in whole seconds: a renewal within the second of issue would change nothing.
    const { iat } = JSON.parse(Buffer.from(session.access.split('.')[1] ?? '', 'base64url').toString()) as {
      iat: number;
    };
    await until(() => Date.now() >= (iat + 1) * 1000);
    const refreshed = json<{ access: string }>(
      await ctx.app.inject({ method: 'POST', url: '/api/auth/token/refresh/', payload: { refresh: session.refresh } }),
    );
    client.send({ type: 'authenticate', token: refreshed.access });
    await client.ofType('authenticated');
    await lapsing.ofType('token_expired', 4_000);
    await lapsing.waitClosed();
    expect(client.messages.some((m) => m.type === 'token_expired')).toBe(false);
    expect(client.closed).toBeUndefined();
    client.close();
  });
});

describe('shutdown', () => {
  it('closes sockets with 1001 so clients reconnect elsewhere', async () => {
    const ctx = await createTestContext();
    const url = await listen(ctx);
    const session = await registerCompany(ctx.app);
    const client = await TestSocket.open(url, { token: session.access });
    await client.ofType('connection_established');
    await ctx.close();
    expect((await client.waitClosed()).code).toBe(1001);
  });
});

describe('task events', () => {
  let ctx: TestContext;
  let url: string;
  let a: Session;
  let a2: Session;
  let b: Session;
  let b2: Session;
  beforeAll(async () => {
    ctx = await createTestContext();
    url = await listen(ctx);
    a = await registerCompany(ctx.app);
    a2 = await addMember(ctx.app, a);
    b = await registerCompany(ctx.app);
    b2 = await addMember(ctx.app, b);
  });
  afterAll(() => ctx.close());

  const request = (session: Session, method: 'POST' | 'PATCH' | 'DELETE' | 'PUT', path: string, payload?: object) =>
    ctx.app.inject({ method, url: path, headers: bearer(session.access), payload });
  const sockets = async <T extends Session[]>(...sessions: T): Promise<{ [K in keyof T]: TestSocket }> => {
    const opened = await Promise.all(sessions.map((s) => TestSocket.open(url, { token: s.access })));
    await Promise.all(opened.map((s) => s.ofType('connection_established')));
    return opened as { [K in keyof T]: TestSocket };
  };

  it('reaches every socket of the company, and none of another', async () => {
    const [sa, sa2, sb, sb2] = await sockets(a, a2, b, b2);
    const created = await request(a, 'POST', '/api/tasks/', { title: 'Live task', assigned_to: a2.user.id });
    expect(created.statusCode).toBe(201);
    const task = json<{ id: number; updated_at: string }>(created);
    // The task as the API answers it, but whether the reader watches it: everyone's events say false.
    const shared = (response: typeof created) => ({ ...json(response), is_watching: false });
    expect(json(created).is_watching).toBe(true);
    for (const socket of [sa, sa2]) {
      expect(await socket.ofType('task_created')).toEqual({ type: 'task_created', task: shared(created) });
    }
    const updated = await request(a2, 'PATCH', `/api/tasks/${task.id}/`, { status: 'done' });
    for (const socket of [sa, sa2]) {
      const event = await socket.ofType('task_updated');
      expect(event).toEqual({ type: 'task_updated', task: shared(updated) });
      expect((event.task as { updated_at: string }).updated_at).toBe(json<{ updated_at: string }>(updated).updated_at);
    }
    expect((await request(a, 'DELETE', `/api/tasks/${task.id}/`)).statusCode).toBe(204);
    for (const socket of [sa, sa2]) {
      expect(await socket.ofType('task_deleted')).toMatchObject({ type: 'task_deleted', task: { id: task.id } });
    }
    // Events go out in the order of the writes: one of b's own, written last, arrives after any of a's would have.
    const marker = json(await request(b, 'POST', '/api/tasks/', { title: 'Marker' }));
    for (const socket of [sb, sb2]) {
      expect(await socket.ofType('task_created')).toEqual({
        type: 'task_created',
        task: { ...marker, is_watching: false },
      });
      expect(socket.messages.map((m) => m.type)).toEqual(['connection_established', 'task_created']);
    }
    for (const socket of [sa, sa2, sb, sb2]) socket.close();
  });

  it('publishes nothing for a write that was refused or rolled back', async () => {
    const [sa] = await sockets(a);
    const created = json<{ id: number }>(await request(a, 'POST', '/api/tasks/', { title: 'Quiet' }));
    await sa.ofType('task_created');
    const before = sa.messages.length ?? 0;
    // refused inside the transaction: the task row was locked and read, then nothing committed
    const stale = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/tasks/${created.id}/`,
      headers: { ...bearer(a.access), 'if-match': 'W/"stale"' },
      payload: { title: 'Overwritten' },
    });
    expect(stale.statusCode).toBe(412);
    expect((await request(a, 'PATCH', `/api/tasks/${created.id}/`, { assigned_to: b.user.id })).statusCode).toBe(400);
    expect((await request(a, 'POST', '/api/tasks/', { title: '' })).statusCode).toBe(400);
    // A write that commits, made last: its event comes after any of the refused ones would have.
    const marker = json<{ id: number }>(await request(a, 'POST', '/api/tasks/', { title: 'Marker' }));
    await sa.next((m) => m.type === 'task_created' && (m.task as { id: number }).id === marker.id);
    expect(sa.messages.slice(before)).toEqual([{ type: 'task_created', task: { ...marker, is_watching: false } }]);
    sa.close();
  });

  it('disconnects a user removed from the company at once', async () => {
    const member = await addMember(ctx.app, a);
    const [socket] = await sockets(member);
    expect((await request(a, 'DELETE', `/api/auth/company-users/${member.user.id}/`)).statusCode).toBe(204);
    expect((await socket.waitClosed())?.code).toBe(4403);
  });

  it('drops a stalled client while a healthy one keeps receiving', async () => {
    const [healthy, stalled] = await sockets(a, a);
    // the stalled client stops reading: the server's send buffer for it grows
    const raw = stalled.socket as unknown as { _socket: { pause(): void; resume(): void } };
    raw._socket.pause();
    // 30 kB an event: well past what loopback's socket buffers absorb before the server's queue grows
    const description = '€'.repeat(10_000);
    const count = 600;
    for (let i = 0; i < count; i++) {
      expect((await request(a, 'POST', '/api/tasks/', { title: `Bulk ${i}`, description })).statusCode).toBe(201);
    }
    await healthy.next(() => (healthy.messages.filter((m) => m.type === 'task_created').length ?? 0) >= count, 20_000);
    raw._socket.resume();
    expect([1013, 1006]).toContain((await stalled.waitClosed(15_000))?.code);
    expect(healthy.closed).toBeUndefined();
    healthy.close();
  });
});
