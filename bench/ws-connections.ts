/**
 * How many authenticated sockets one API process holds, and at what memory: opens N sockets
 * (default 10,000) from this process to a server process, then reads the server's RSS.
 * Usage: npx tsx bench/ws-connections.ts [sockets=10000] [embedded|postgres]
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, startServer, waitForHealthy } from '../test/process.ts';
import { TestSocket } from '../test/ws.ts';

const total = Number(process.argv[2] ?? 10_000);
const driver = process.argv[3] ?? 'postgres';
const rssMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
};

const env: Record<string, string> = {
  PORT: String(await freePort()),
  DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tasks-wsbench-')),
  LOG_LEVEL: 'warn',
  AUTH_RATE_LIMIT: '1000000',
  RATE_LIMIT: '1000000',
  // Every socket here is one user's.
  WS_MAX_SOCKETS_PER_USER: '1000000',
};
let drop = async () => {};
if (driver === 'postgres') {
  const database = await createServerDatabase();
  drop = database.drop;
  env.DATABASE_URL = database.url;
  env.JWT_SECRET = 'ws-bench-secret-0123456789-0123456789-0123';
}
const server = startServer(env);
const sockets: TestSocket[] = [];
try {
  await waitForHealthy(server);
  const pid = server.child.pid as number;
  const registered = await fetch(`${server.url}/api/auth/register/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      username: 'wsbench',
      email: 'wsbench@example.com',
      password: 'ws-bench-password',
      password_confirm: 'ws-bench-password',
      company_name: 'WS Bench',
    }),
  });
  const { access } = (await registered.json()) as { access: string };
  const idle = rssMb(pid);
  const url = `${server.url.replace('http', 'ws')}/ws/tasks/`;
  const started = performance.now();
  const batch = 200;
  for (let opened = 0; opened < total; opened += batch) {
    const next = await Promise.all(
      Array.from({ length: Math.min(batch, total - opened) }, () => TestSocket.open(url, { token: access })),
    );
    sockets.push(...next);
  }
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 2_000));
  const held = sockets.filter((s) => s.closed === undefined).length;
  console.log(
    `${driver}: ${held} of ${total} sockets open after ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)}/s)`,
  );
  console.log(`server RSS: ${idle.toFixed(0)} MB idle, ${rssMb(pid).toFixed(0)} MB holding the sockets`);
} finally {
  for (const socket of sockets) socket.socket.terminate();
  server.child.kill('SIGTERM');
  await server.exited;
  await drop();
}
