/**
 * Fan-out latency: 1,000 sockets of one company, 200 task changes through the API; for each change,
 * the time from the HTTP answer to the event's arrival on every socket. Run in one process, and
 * across two processes through Redis (sockets on one, writes through the other).
 * Usage: npx tsx bench/ws-fanout.ts [single|redis|both] [sockets=1000] [changes=200]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../test/process.ts';

const mode = process.argv[2] ?? 'both';
const socketCount = Number(process.argv[3] ?? 1000);
const changes = Number(process.argv[4] ?? 200);

const CREATED = '{"type":"task_created","task":{"id":';
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;

async function run(label: string, processes: number) {
  const database = await createServerDatabase();
  const env = {
    DATABASE_URL: database.url,
    JWT_SECRET: 'fanout-bench-secret-0123456789-0123456789',
    LOG_LEVEL: 'warn',
    AUTH_RATE_LIMIT: '1000000',
    RATE_LIMIT: '1000000',
    // Every socket here is one user's.
    WS_MAX_SOCKETS_PER_USER: '1000000',
    ...(processes > 1 ? { REDIS_URL: 'redis://127.0.0.1:6379' } : {}),
  };
  const servers: ServerProcess[] = [];
  for (let i = 0; i < processes; i++) {
    servers.push(
      startServer({ ...env, PORT: String(await freePort()), DATA_DIR: mkdtempSync(path.join(tmpdir(), 'fanout-')) }),
    );
  }
  const sockets: WebSocket[] = [];
  try {
    await Promise.all(servers.map((s) => waitForHealthy(s)));
    const reader = servers[0] as ServerProcess;
    const writer = servers[servers.length - 1] as ServerProcess;
    const registered = await fetch(`${writer.url}/api/auth/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'fanout',
        email: 'fanout@example.com',
        password: 'bench-secret-words',
        password_confirm: 'bench-secret-words',
        company_name: 'Fanout Co',
      }),
    });
    if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);
    const { access } = (await registered.json()) as { access: string };

    // arrival time of each task's event, per socket
    const arrivals = new Map<number, number[]>();
    const url = `${reader.url.replace('http', 'ws')}/ws/tasks/`;
    for (let i = 0; i < socketCount; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, socketCount - i) }, () => {
          const socket = new WebSocket(url, { headers: { authorization: `Bearer ${access}` } });
          socket.on('message', (data) => {
            const now = performance.now();
            // The client must not be the bottleneck: read the id without parsing the whole event.
            const text = data.toString();
            if (!text.startsWith(CREATED)) return;
            const id = Number.parseInt(text.slice(CREATED.length), 10);
            let list = arrivals.get(id);
            if (list === undefined) {
              list = [];
              arrivals.set(id, list);
            }
            list.push(now);
          });
          return new Promise<WebSocket>((resolve, reject) => {
            socket.once('open', () => resolve(socket));
            socket.once('error', reject);
          });
        }),
      );
      sockets.push(...batch);
    }

    const latencies: number[] = [];
    let early = 0;
    const perChange: number[] = [];
    for (let i = 0; i < changes; i++) {
      const response = await fetch(`${writer.url}/api/tasks/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` },
        body: JSON.stringify({ title: `Fan-out ${i}` }),
      });
      const answeredAt = performance.now();
      const { id } = (await response.json()) as { id: number };
      const deadline = answeredAt + 5_000;
      while ((arrivals.get(id)?.length ?? 0) < socketCount && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
      const got = arrivals.get(id) ?? [];
      if (got.length < socketCount) console.log(`  change ${i}: only ${got.length} of ${socketCount} sockets got it`);
      // An event may arrive before the HTTP answer is read (it is published at commit): count it as 0.
      for (const at of got) latencies.push(Math.max(0, at - answeredAt));
      perChange.push(Math.max(0, ...got.map((at) => at - answeredAt)));
      early += got.filter((at) => at < answeredAt).length;
    }
    latencies.sort((a, b) => a - b);
    perChange.sort((a, b) => a - b);
    console.log(
      `${label}: ${latencies.length} deliveries (${early} before the HTTP answer); answer→arrival p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, max ${(latencies.at(-1) ?? 0).toFixed(1)} ms; last socket per change p50 ${percentile(perChange, 0.5).toFixed(1)} ms, p99 ${percentile(perChange, 0.99).toFixed(1)} ms`,
    );
  } finally {
    for (const socket of sockets) socket.terminate();
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await database.drop();
  }
}

if (mode === 'single' || mode === 'both') await run('one process', 1);
if (mode === 'redis' || mode === 'both') await run('two processes through Redis', 2);
