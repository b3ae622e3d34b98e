import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processDatabase } from '../../test/databases.ts';
import { createTestContext, PASSWORD, registerCompany, TEST_DB, type TestContext, unique } from '../../test/helpers.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../../test/process.ts';
import { scratchDir } from '../../test/scratch.ts';
import { TestSocket } from '../../test/ws.ts';

/** One user or one socket cannot take more than its share of a process. */
describe('socket limits', () => {
  let ctx: TestContext;
  let url: string;
  beforeAll(async () => {
    ctx = await createTestContext({ wsMaxSocketsPerUser: 3, wsMessageRate: 5 });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}/ws/tasks/`;
  });
  afterAll(() => ctx.close());

  it('closes a user’s oldest socket with 4429 when they open one more than WS_MAX_SOCKETS_PER_USER', async () => {
    const alice = await registerCompany(ctx.app);
    const bob = await registerCompany(ctx.app);
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 4; i++) {
      sockets.push(await TestSocket.open(url, { token: alice.access }));
      await sockets[i]?.ofType('connection_established');
    }
    const others = await TestSocket.open(url, { token: bob.access });
    expect(await sockets[0]?.waitClosed()).toEqual({
      code: 4429,
      reason: 'Over 3 connections for this user: the oldest is closed',
    });
    for (const socket of [...sockets.slice(1), others]) {
      socket.send({ type: 'ping' });
      expect(await socket.ofType('pong')).toBeDefined();
      expect(socket.closed).toBeUndefined();
      socket.close();
    }
  });

  it('answers past the message budget with errors, then closes 1008 when the client goes on', async () => {
    const { access } = await registerCompany(ctx.app);
    const socket = await TestSocket.open(url, { token: access });
    await socket.ofType('connection_established');
    for (let i = 0; i < 40; i++) socket.send({ type: 'ping' });
    expect(await socket.waitClosed()).toEqual({ code: 1008, reason: 'Too many messages' });
    const pongs = socket.messages.filter((m) => m.type === 'pong').length;
    const refused = socket.messages.filter((m) => m.detail === 'Too many messages: at most 5 a second.').length;
    // A burst of twice the rate (plus what trickles in meanwhile), then a burst's worth of refusals.
    expect(pongs).toBeGreaterThanOrEqual(10);
    expect(pongs).toBeLessThan(14);
    expect(refused).toBe(10);
  });

  it('lets a socket that keeps within the rate go on', async () => {
    const { access } = await registerCompany(ctx.app);
    const socket = await TestSocket.open(url, { token: access });
    await socket.ofType('connection_established');
    for (let i = 0; i < 15; i++) {
      socket.send({ type: 'ping' });
      await socket.next((m) => m.type === 'pong', 5_000, socket.messages.length);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(socket.messages.some((m) => m.type === 'error')).toBe(false);
    socket.close();
  });
});

/** What a client does wrong at the protocol level is its fault: one warning line, no stack. */
describe(`socket protocol errors in the log (${TEST_DB})`, () => {
  let server: ServerProcess;
  let drop = async () => {};
  beforeAll(async () => {
    const env: Record<string, string> = {
      PORT: String(await freePort()),
      DATA_DIR: scratchDir('tasks-wslog-'),
    };
    const database = await processDatabase();
    drop = database.drop;
    server = startServer({ ...env, ...database.env });
    await waitForHealthy(server);
  });
  afterAll(async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    await drop();
  });

  it('logs invalid UTF-8 and an oversized frame at warn, on one line without a stack', async () => {
    const username = unique('wslog');
    const registered = await fetch(`${server.url}/api/auth/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username,
        email: `${username}@example.com`,
        password: PASSWORD,
        password_confirm: PASSWORD,
        company_name: unique('Ws Co '),
      }),
    });
    const { access } = (await registered.json()) as { access: string };
    const url = `${server.url.replace('http', 'ws')}/ws/tasks/`;
    const seen = server.output().length;

    const badText = await TestSocket.open(url, { token: access });
    await badText.ofType('connection_established');
    badText.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await badText.waitClosed()).code).toBe(1007);

    const tooBig = await TestSocket.open(url, { token: access });
    await tooBig.ofType('connection_established');
    tooBig.send('x'.repeat(100 * 1024));
    expect((await tooBig.waitClosed()).code).toBe(1009);

    await new Promise((r) => setTimeout(r, 200));
    const lines = server
      .output()
      .slice(seen)
      .split('\n')
      .filter((line) => line.includes('WS_ERR_') || line.includes('"level":50'));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry).toMatchObject({ level: 40, msg: 'websocket client error' });
      expect(line).not.toContain('stack');
    }
  });
});
