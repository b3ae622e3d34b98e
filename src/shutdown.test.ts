import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processDatabase } from '../test/databases.ts';
import { TEST_DB } from '../test/helpers.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../test/process.ts';
import { scratchDir } from '../test/scratch.ts';

const GRACE_SECONDS = 3;

/** SIGTERM ends the process within SHUTDOWN_GRACE_SECONDS whatever its clients do. */
describe(`stopping under hostile clients (${TEST_DB})`, () => {
  let env: Record<string, string>;
  let dropDatabase = async () => {};
  let server: ServerProcess;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    env = {
      PORT: String(await freePort()),
      DATA_DIR: scratchDir('tasks-stop-'),
      SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
    };
    const database = await processDatabase();
    dropDatabase = database.drop;
    server = startServer({ ...env, ...database.env });
    await waitForHealthy(server);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await dropDatabase();
  });

  const closedAt = new Map<Socket, number>();
  const open = async (text: string) => {
    const socket = connect({ host: '127.0.0.1', port: Number(env.PORT), allowHalfOpen: true });
    // The server's side closing: the client keeps its own open (allowHalfOpen), so no 'close'.
    socket.on('end', () => closedAt.set(socket, Date.now()));
    socket.on('error', () => {});
    socket.on('data', () => {});
    sockets.push(socket);
    await once(socket, 'connect');
    socket.write(text);
    return socket;
  };

  it('cuts a client silent after half a body and one that half-closed, and exits within the grace', async () => {
    // Headers and half the promised body, then nothing.
    await open(
      'POST /api/auth/login/ HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"username": "a',
    );
    // Half a body, then the client closes its sending side and keeps reading.
    const halfClosed = await open(
      'POST /api/auth/login/ HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"username": "a',
    );
    halfClosed.end();
    // A keep-alive connection left idle after its answer.
    const idle = await open('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await once(idle, 'data');
    // A raw connection that never says anything.
    const mute = await open('');
    // One that connected just before the stop, whose request is on its way: it gets an answer.
    const late = await open('');
    let lateAnswer = '';
    late.on('data', (chunk) => {
      lateAnswer += chunk;
    });
    // Let the server see all three before it is told to stop.
    await new Promise((r) => setTimeout(r, 200));

    const seen = server.output().length;
    const started = Date.now();
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    late.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const code = await server.exited;
    const took = (Date.now() - started) / 1000;
    expect(took).toBeLessThan(GRACE_SECONDS + 2);
    // Answered, not reset: while closing, Fastify answers 503 (the client tries another process).
    expect(lateAnswer).toMatch(/^HTTP\/1\.1 503 /);
    // The idle and half-closed connections did not wait for the grace.
    expect((closedAt.get(idle) ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(1000);
    expect((closedAt.get(halfClosed) ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(1000);
    // A connection that has sent nothing gets a second for a request on its way, not the grace.
    expect((closedAt.get(mute) ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(2000);
    const log = server.output().slice(seen);
    expect(log).toMatch(/"msg":"stop: cut what was left after the grace"/);
    expect(log).toMatch(/"requests":1/);
    expect(code).toBe(1);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
