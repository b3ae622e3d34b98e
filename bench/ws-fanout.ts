/**
 * Fan-out latency with visibility: 1,000 sockets of one company's people spread over its projects,
 * and 200 tasks created through the API, in turn in each project. For each task, the time from the
 * HTTP request (and from its answer) to the event's arrival on every socket whose user sees the
 * project; and every other socket must get nothing, which is checked once a label change (an event
 * for the whole company) has reached every socket after the last task.
 * The company: its admin (who writes), 40 members of whom 10 are in the private project, and 40
 * guests, each in one of the four public projects besides General; a socket per user in turn.
 * Run in one process, and across two processes through Redis (sockets on one, writes through the
 * other; BENCH_REDIS_URL, default redis://127.0.0.1:6379).
 * Usage: npx tsx bench/ws-fanout.ts [single|redis|both] [sockets=1000] [changes=200]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../test/process.ts';
import { apiAs } from './api.ts';

const mode = process.argv[2] ?? 'both';
const socketCount = Number(process.argv[3] ?? 1000);
const changes = Number(process.argv[4] ?? 200);
const MEMBERS = 40;
const PRIVATE_MEMBERS = 10;
const GUESTS = 40;
const PUBLIC_PROJECTS = 4;

const CREATED = '{"type":"task_created","task":{"id":';
const BARRIER = '{"type":"label_updated"';
const PASSWORD = 'bench-secret-words';
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

type Person = { id: number; access: string; sees: Set<number> };

async function register(base: string, body: Record<string, unknown>): Promise<{ id: number; access: string }> {
  const response = await fetch(`${base}/api/auth/register/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD, password_confirm: PASSWORD, ...body }),
  });
  if (response.status !== 201) throw new Error(`register: ${response.status} ${await response.text()}`);
  const { user, access } = (await response.json()) as { user: { id: number }; access: string };
  return { id: user.id, access };
}

/** The company, its projects and people, made through the API; who sees which project. */
async function company(base: string) {
  const owner = await register(base, { username: 'fanout', email: 'fanout@example.com', company_name: 'Fanout Co' });
  const admin = apiAs(base, owner.access);
  const general = (await admin<{ results: Array<{ id: number }> }>('GET', '/api/projects/')).results[0]?.id as number;
  const publics: number[] = [];
  for (let i = 1; i <= PUBLIC_PROJECTS; i++) {
    publics.push((await admin<{ id: number }>('POST', '/api/projects/', { name: `Public ${i}`, key: `PUB${i}` })).id);
  }
  const privateOne = (
    await admin<{ id: number }>('POST', '/api/projects/', { name: 'Private', key: 'PRIV', is_private: true })
  ).id;
  const all = [general, ...publics, privateOne];
  const people: Person[] = [{ ...owner, sees: new Set(all) }];
  const invite = async (role: 'member' | 'guest', n: number) => {
    const username = `${role}${n}`;
    const { token } = await admin<{ token: string }>('POST', '/api/auth/invitations/', {
      email: `${username}@example.com`,
      role,
    });
    return register(base, { username, email: `${username}@example.com`, invitation_token: token });
  };
  for (let i = 0; i < MEMBERS; i++) {
    const member = await invite('member', i);
    const sees = new Set([general, ...publics]);
    if (i < PRIVATE_MEMBERS) {
      await admin('PUT', `/api/projects/${privateOne}/members/${member.id}/`, { role: 'member' });
      sees.add(privateOne);
    }
    people.push({ ...member, sees });
  }
  for (let i = 0; i < GUESTS; i++) {
    const guest = await invite('guest', i);
    const project = publics[i % PUBLIC_PROJECTS] as number;
    await admin('PUT', `/api/projects/${project}/members/${guest.id}/`, { role: 'member' });
    people.push({ ...guest, sees: new Set([project]) });
  }
  return { admin, projects: all, people };
}

async function run(label: string, processes: number) {
  const database = await createServerDatabase();
  const env = {
    DATABASE_URL: database.url,
    JWT_SECRET: 'fanout-bench-secret-0123456789-0123456789',
    LOG_LEVEL: 'warn',
    AUTH_RATE_LIMIT: '1000000',
    RATE_LIMIT: '1000000',
    // A dozen sockets a person here.
    WS_MAX_SOCKETS_PER_USER: '1000000',
    ...(processes > 1 ? { REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' } : {}),
  };
  const servers: ServerProcess[] = [];
  for (let i = 0; i < processes; i++) {
    servers.push(
      startServer({ ...env, PORT: String(await freePort()), DATA_DIR: mkdtempSync(path.join(tmpdir(), 'fanout-')) }),
    );
  }
  const sockets: Array<{ socket: WebSocket; sees: Set<number>; got: Map<number, number>; barrier: boolean }> = [];
  try {
    await Promise.all(servers.map((s) => waitForHealthy(s)));
    const reader = servers[0] as ServerProcess;
    const writer = servers[servers.length - 1] as ServerProcess;
    const { admin, projects, people } = await company(writer.url);

    const url = `${reader.url.replace('http', 'ws')}/ws/tasks/`;
    for (let i = 0; i < socketCount; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, socketCount - i) }, (_, j) => {
          const person = people[(i + j) % people.length] as Person;
          const entry = {
            socket: new WebSocket(url, { headers: { authorization: `Bearer ${person.access}` } }),
            sees: person.sees,
            got: new Map<number, number>(),
            barrier: false,
          };
          entry.socket.on('message', (data) => {
            const now = performance.now();
            // The client must not be the bottleneck: read the id without parsing the whole event.
            const text = data.toString();
            if (text.startsWith(CREATED)) entry.got.set(Number.parseInt(text.slice(CREATED.length), 10), now);
            else if (text.startsWith(BARRIER)) entry.barrier = true;
          });
          return new Promise<typeof entry>((resolve, reject) => {
            entry.socket.once('open', () => resolve(entry));
            entry.socket.once('error', reject);
          });
        }),
      );
      sockets.push(...batch);
    }

    const fromRequest: number[] = [];
    const fromAnswer: number[] = [];
    const lastPerChange: number[] = [];
    const created: Array<{ id: number; project: number }> = [];
    let early = 0;
    let missing = 0;
    for (let i = 0; i < changes; i++) {
      const project = projects[i % projects.length] as number;
      const audience = sockets.filter((s) => s.sees.has(project));
      const sentAt = performance.now();
      const { id } = await admin<{ id: number }>('POST', '/api/tasks/', { title: `Fan-out ${i}`, project });
      const answeredAt = performance.now();
      created.push({ id, project });
      const deadline = answeredAt + 5_000;
      while (audience.some((s) => !s.got.has(id)) && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
      const arrivals = audience.flatMap((s) => {
        const at = s.got.get(id);
        return at === undefined ? [] : [at];
      });
      if (arrivals.length < audience.length) {
        missing += audience.length - arrivals.length;
        console.log(`  change ${i}: only ${arrivals.length} of ${audience.length} sockets that see it got it`);
      }
      for (const at of arrivals) {
        fromRequest.push(at - sentAt);
        // An event may arrive before the HTTP answer is read (it is published at commit): count it as 0.
        fromAnswer.push(Math.max(0, at - answeredAt));
      }
      lastPerChange.push(Math.max(0, ...arrivals.map((at) => at - answeredAt)));
      early += arrivals.filter((at) => at < answeredAt).length;
    }

    // Whatever a socket was to get of those tasks is in before the label event that follows them.
    await admin('POST', '/api/labels/', { name: 'barrier' });
    const deadline = performance.now() + 10_000;
    while (sockets.some((s) => !s.barrier) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const unbarred = sockets.filter((s) => !s.barrier).length;
    let leaked = 0;
    for (const { id, project } of created) {
      for (const s of sockets) if (!s.sees.has(project) && s.got.has(id)) leaked += 1;
    }
    const expected = created.reduce((sum, c) => sum + sockets.filter((s) => s.sees.has(c.project)).length, 0);

    for (const list of [fromRequest, fromAnswer, lastPerChange]) list.sort((a, b) => a - b);
    console.log(
      `${label}: ${fromAnswer.length} deliveries of ${expected} due (${early} before the HTTP answer), ${missing} missing; request→arrival p50 ${percentile(fromRequest, 0.5).toFixed(1)} ms, p99 ${percentile(fromRequest, 0.99).toFixed(1)} ms, max ${(fromRequest.at(-1) ?? 0).toFixed(1)} ms; answer→arrival p50 ${percentile(fromAnswer, 0.5).toFixed(1)} ms, p99 ${percentile(fromAnswer, 0.99).toFixed(1)} ms; last socket per change p50 ${percentile(lastPerChange, 0.5).toFixed(1)} ms, p99 ${percentile(lastPerChange, 0.99).toFixed(1)} ms`,
    );
    console.log(
      `  ${people.length} people on ${sockets.length} sockets over ${projects.length} projects; events on sockets that do not see the project: ${leaked}${unbarred > 0 ? ` (${unbarred} sockets never got the closing label event)` : ''}`,
    );
    if (leaked > 0 || unbarred > 0 || missing > 0) process.exitCode = 1;
  } finally {
    for (const { socket } of sockets) socket.terminate();
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await database.drop();
  }
}

if (mode === 'single' || mode === 'both') await run('one process', 1);
if (mode === 'redis' || mode === 'both') await run('two processes through Redis', 2);
