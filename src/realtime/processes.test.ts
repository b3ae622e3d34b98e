import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../../test/databases.ts';
import { PASSWORD, TEST_DB, unique } from '../../test/helpers.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../../test/process.ts';
import { scratchDir } from '../../test/scratch.ts';
import { TestSocket } from '../../test/ws.ts';

/** Two API processes on one PostgreSQL and one Redis, as in production. */
describe.runIf(TEST_DB === 'postgres')('events across processes', () => {
  const servers: ServerProcess[] = [];
  let drop = async () => {};

  beforeAll(async () => {
    const database = await createServerDatabase();
    drop = database.drop;
    for (let i = 0; i < 2; i++) {
      servers.push(
        startServer({
          PORT: String(await freePort()),
          DATA_DIR: scratchDir('tasks-proc-'),
          DATABASE_URL: database.url,
          REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
          JWT_SECRET: 'processes-test-secret-0123456789-0123456789',
          LOG_LEVEL: 'warn',
        }),
      );
    }
    await Promise.all(servers.map((s) => waitForHealthy(s)));
    // two processes compiling and starting at once on a busy machine
  }, 180_000);
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await drop();
  });

  const post = async (server: ServerProcess, url: string, body: unknown, token?: string) => {
    const response = await fetch(`${server.url}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('delivers a write made through one process to a socket on the other, and to no other company', async () => {
    const [one, two] = servers as [ServerProcess, ServerProcess];
    const register = async () => {
      const username = unique('p');
      const answer = await post(one, '/api/auth/register/', {
        username,
        email: `${username}@example.com`,
        password: PASSWORD,
        password_confirm: PASSWORD,
        company_name: unique('Proc Co '),
      });
      return answer.body.access as string;
    };
    const [mine, theirs] = [await register(), await register()];
    const wsUrl = (s: ServerProcess) => `${s.url.replace('http', 'ws')}/ws/tasks/`;
    const onOne = await TestSocket.open(wsUrl(one), { token: mine });
    const onTwo = await TestSocket.open(wsUrl(two), { token: mine });
    const stranger = await TestSocket.open(wsUrl(one), { token: theirs });
    await Promise.all([onOne, onTwo, stranger].map((s) => s.ofType('connection_established')));

    const created = await post(two, '/api/tasks/', { title: 'Across processes' }, mine);
    expect(created.status).toBe(201);
    // The answer tells its creator they now watch the task; an event, being everyone's, says false.
    const told = { type: 'task_created', task: { ...(created.body as object), is_watching: false } };
    expect(await onOne.ofType('task_created')).toEqual(told);
    expect(await onTwo.ofType('task_created')).toEqual(told);
    // Events go out in the order of the writes: the stranger's own, written last, comes after any leak would have.
    const marker = await post(two, '/api/tasks/', { title: 'Marker' }, theirs);
    expect(await stranger.ofType('task_created')).toEqual({
      type: 'task_created',
      task: { ...(marker.body as object), is_watching: false },
    });
    expect(stranger.messages.map((m) => m.type)).toEqual(['connection_established', 'task_created']);
    for (const s of [onOne, onTwo, stranger]) s.close();
  });
});
