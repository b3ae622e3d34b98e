/**
 * Soak: one server process (ROLE=all: API and jobs) on PostgreSQL and a Redis of its own, under a
 * steady mixed load at a fixed rate for a long while. Per minute it prints the server's RSS and
 * heap, the requests answered and failed, p50/p99 latency, the server's CPU time per request and
 * the machine's load; at the end whether RSS, p99 and CPU per request stayed flat (last minute
 * against the first). A leak or a slowdown that grows with time shows here, not in a 10-second
 * benchmark. Latency moves with whatever else runs on the machine (see the load column); the
 * server's CPU per request does not.
 *
 * The load: 5 companies of 3 people, each with a socket open, sending an open-loop stream (requests
 * leave on schedule whether or not earlier ones came back, up to 64 in flight) of lists, reads,
 * filtered and searched lists, changes, creates with Idempotency-Key, deletions, statistics and
 * history. Creates and deletions balance, so the data set stays about the same size throughout.
 *
 * Usage: npx tsx bench/soak.ts [minutes=10] [requests per second=150]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, startServer, waitForHealthy } from '../test/process.ts';
import { PrivateRedis } from '../test/production/processes.ts';

const minutes = Number(process.argv[2] ?? 10);
const rate = Number(process.argv[3] ?? 150);
const MAX_IN_FLIGHT = 64;
const COMPANIES = 5;
const TASKS_PER_COMPANY = 200;
const PASSWORD = 'soak-password-words';

interface User {
  company: number;
  username: string;
  token: string;
  id: number;
}

interface Minute {
  latencies: number[];
  failed: number;
  byKind: Map<string, number>;
  errors: Map<string, number>;
}

const newMinute = (): Minute => ({ latencies: [], failed: 0, byKind: new Map(), errors: new Map() });
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
/** CPU seconds the process has used (user + system), from /proc. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
/** The machine's 1-minute load average: the server shares 2 cores with the load generator, PostgreSQL and anything else running. */
const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const rssMb = (pid: number) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) / 1024;
};

const database = await createServerDatabase();
const redis = await PrivateRedis.start();
const port = await freePort();
const server = startServer({
  PORT: String(port),
  DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tasks-soak-')),
  DATABASE_URL: database.url,
  REDIS_URL: redis.url,
  JWT_SECRET: 'soak-bench-secret-0123456789-0123456789-0123',
  LOG_LEVEL: 'warn',
  RATE_LIMIT: '1000000',
  AUTH_RATE_LIMIT: '1000000',
  NOTIFICATION_DELAY_SECONDS: '1',
  EXTERNAL_TASKS_URL: 'http://127.0.0.1:9/todos',
});
const base = server.url;
const sockets: WebSocket[] = [];

async function call(method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

async function login(username: string): Promise<string> {
  const answer = await call('POST', '/api/auth/login/', undefined, { username, password: PASSWORD });
  if (answer.status !== 200) throw new Error(`login ${username}: ${answer.status}`);
  return answer.body.access as string;
}

try {
  await waitForHealthy(server, 120_000);
  const pid = server.child.pid as number;

  // Companies, people, sockets and a starting set of tasks.
  const users: User[] = [];
  const tasks: number[][] = [];
  for (let c = 0; c < COMPANIES; c++) {
    const admin = `soak${c}admin`;
    const registered = await call('POST', '/api/auth/register/', undefined, {
      username: admin,
      email: `${admin}@example.com`,
      password: PASSWORD,
      password_confirm: PASSWORD,
      company_name: `Soak Co ${c}`,
    });
    if (registered.status !== 201) throw new Error(`register: ${registered.status}`);
    const adminToken = registered.body.access as string;
    users.push({ company: c, username: admin, token: adminToken, id: (registered.body.user as { id: number }).id });
    for (let m = 1; m < 3; m++) {
      const username = `soak${c}member${m}`;
      const invited = await call('POST', '/api/auth/invitations/', adminToken, { email: `${username}@example.com` });
      const joined = await call('POST', '/api/auth/register/', undefined, {
        username,
        email: `${username}@example.com`,
        password: PASSWORD,
        password_confirm: PASSWORD,
        invitation_token: invited.body.token,
      });
      users.push({
        company: c,
        username,
        token: joined.body.access as string,
        id: (joined.body.user as { id: number }).id,
      });
    }
    const ids: number[] = [];
    for (let t = 0; t < TASKS_PER_COMPANY; t++) {
      const created = await call('POST', '/api/tasks/', adminToken, {
        title: `Soak task ${t} invoice report`,
        description: 'Steady state for the soak test',
        priority: ['low', 'medium', 'high', 'urgent'][t % 4],
      });
      ids.push(created.body.id as number);
    }
    tasks.push(ids);
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws/tasks/`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    socket.on('error', () => {});
    sockets.push(socket);
  }
  let eventsReceived = 0;
  for (const socket of sockets) socket.on('message', () => (eventsReceived += 1));

  // Access tokens live 15 minutes: everyone logs in again every 10.
  const relogin = setInterval(() => {
    for (const user of users) void login(user.username).then((token) => (user.token = token));
  }, 10 * 60_000);

  let counter = 0;
  /** Tasks deleted so far: a request for one that left before its deletion arrived rightly gets a 404. */
  const gone = new Set<number>();
  const unlessGone = (id: number) => (answer: { status: number }) =>
    answer.status === 404 && gone.has(id) ? 200 : answer.status;
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)] as T;
  /** One request of the mix, as [kind, promise of its status]. */
  const request = (): [string, Promise<number>] => {
    const user = pick(users);
    const ids = tasks[user.company] as number[];
    const id = pick(ids);
    const roll = Math.random() * 100;
    counter += 1;
    if (roll < 30) return ['list', call('GET', '/api/tasks/?page_size=20', user.token).then((a) => a.status)];
    if (roll < 45) return ['get', call('GET', `/api/tasks/${id}/`, user.token).then(unlessGone(id))];
    if (roll < 55) {
      const query = pick([
        'status=todo&ordering=-priority',
        `assigned_to=${user.id}`,
        'search=invoice',
        'priority=high',
      ]);
      return ['filter', call('GET', `/api/tasks/?${query}`, user.token).then((a) => a.status)];
    }
    if (roll < 70) {
      const body = pick<Record<string, unknown>>([
        { status: pick(['todo', 'in_progress', 'done']) },
        { priority: pick(['low', 'high']) },
        { assigned_to: pick(users.filter((u) => u.company === user.company)).id },
        { title: `Soak task ${counter} invoice report` },
      ]);
      return ['patch', call('PATCH', `/api/tasks/${id}/`, user.token, body).then(unlessGone(id))];
    }
    if (roll < 78) {
      return [
        'create',
        call(
          'POST',
          '/api/tasks/',
          user.token,
          { title: `Soak task ${counter} invoice`, priority: 'medium' },
          {
            'idempotency-key': randomUUID(),
          },
        ).then((a) => {
          if (a.status === 201) ids.push(a.body.id as number);
          return a.status;
        }),
      ];
    }
    if (roll < 86 && ids.length > TASKS_PER_COMPANY / 2) {
      // Taken out of the list first, so nobody else asks for it meanwhile.
      ids.splice(ids.indexOf(id), 1);
      gone.add(id);
      return ['delete', call('DELETE', `/api/tasks/${id}/`, user.token).then((a) => a.status)];
    }
    if (roll < 90) return ['statistics', call('GET', '/api/tasks/statistics/', user.token).then((a) => a.status)];
    if (roll < 95) return ['history', call('GET', `/api/tasks/${id}/history/`, user.token).then(unlessGone(id))];
    return ['mine', call('GET', '/api/tasks/my_tasks/', user.token).then((a) => a.status)];
  };

  const heapMb = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const match = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
    return match === null ? 0 : Number(match[1]) / 1024 / 1024;
  };

  console.log(
    `soak: ${minutes} min at ${rate} req/s (at most ${MAX_IN_FLIGHT} in flight), server pid ${pid} (ROLE=all, PostgreSQL + Redis), RSS at start ${rssMb(pid).toFixed(0)} MB`,
  );
  console.log('minute  answered  failed  p50 ms  p99 ms  max ms  RSS MB  heap MB  CPU ms/req  load  skipped');
  const rows: Array<{ rss: number; p50: number; p99: number; cpu: number }> = [];
  let cpuBefore = cpuSeconds(pid);
  let inFlight = 0;
  let skipped = 0;
  let current = newMinute();
  const started = performance.now();
  const interval = 1000 / rate;
  let sent = 0;
  const pending = new Set<Promise<void>>();
  for (let minute = 0; minute < minutes; minute++) {
    current = newMinute();
    skipped = 0;
    const end = started + (minute + 1) * 60_000;
    while (performance.now() < end) {
      // Open loop: each request leaves at its time, whatever the answers so far.
      const due = started + sent * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent += 1;
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped += 1;
        continue;
      }
      inFlight += 1;
      const bucket = current;
      const t0 = performance.now();
      const [kind, status] = request();
      const done = status
        .then(
          (code) => {
            bucket.latencies.push(performance.now() - t0);
            bucket.byKind.set(kind, (bucket.byKind.get(kind) ?? 0) + 1);
            if (code >= 300) {
              bucket.failed += 1;
              bucket.errors.set(`${kind} ${code}`, (bucket.errors.get(`${kind} ${code}`) ?? 0) + 1);
            }
          },
          (error: Error) => {
            bucket.failed += 1;
            bucket.errors.set(`${kind} ${error.name}`, (bucket.errors.get(`${kind} ${error.name}`) ?? 0) + 1);
          },
        )
        .finally(() => {
          inFlight -= 1;
          pending.delete(done);
        });
      pending.add(done);
    }
    const sorted = [...current.latencies].sort((a, b) => a - b);
    const cpuNow = cpuSeconds(pid);
    // The server's own CPU per answer: unlike latency, other programs on the machine do not move it.
    const cpu = ((cpuNow - cpuBefore) * 1000) / Math.max(1, current.latencies.length);
    cpuBefore = cpuNow;
    const row = { rss: rssMb(pid), p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), cpu };
    rows.push(row);
    console.log(
      [
        String(minute + 1).padStart(6),
        String(current.latencies.length).padStart(9),
        String(current.failed).padStart(7),
        row.p50.toFixed(1).padStart(7),
        row.p99.toFixed(1).padStart(7),
        (sorted.at(-1) ?? 0).toFixed(0).padStart(7),
        row.rss.toFixed(0).padStart(7),
        (await heapMb()).toFixed(0).padStart(8),
        cpu.toFixed(2).padStart(12),
        loadAverage().toFixed(1).padStart(6),
        String(skipped).padStart(9),
        current.errors.size > 0 ? `  ${[...current.errors.entries()].map(([k, v]) => `${k}: ${v}`).join(', ')}` : '',
      ].join(''),
    );
  }
  await Promise.all(pending);
  clearInterval(relogin);

  const first = rows[0] as (typeof rows)[number];
  const last = rows.at(-1) as (typeof rows)[number];
  const ratio = (key: 'rss' | 'p99' | 'cpu', unit: string, digits: number, flat: number) => {
    const value = last[key] / first[key];
    return `${key === 'cpu' ? 'CPU per request' : key === 'rss' ? 'RSS' : 'p99'} last/first minute: ${value.toFixed(2)} (${first[key].toFixed(digits)} → ${last[key].toFixed(digits)} ${unit}): ${value < flat ? 'flat' : 'GROWING'}`;
  };
  console.log(
    [
      `events received on the ${sockets.length} sockets: ${eventsReceived}`,
      ratio('rss', 'MB', 0, 1.15),
      ratio('p99', 'ms', 1, 1.5),
      ratio('cpu', 'ms', 2, 1.15),
    ].join('\n'),
  );
} finally {
  for (const socket of sockets) socket.terminate();
  server.child.kill('SIGTERM');
  await server.exited;
  await redis.stop();
  await database.drop();
}
process.exit(0);
