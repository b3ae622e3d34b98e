import { chmodSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase, processDatabase } from '../test/databases.ts';
import { PASSWORD, TEST_DB, unique } from '../test/helpers.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../test/process.ts';
import { scratchDir } from '../test/scratch.ts';
import { sleep } from '../test/timing.ts';
import { TestSocket } from '../test/ws.ts';
import { openDatabase } from './platform/db/index.ts';

/** The service as an operator runs it: a real process on a real port. */
describe(`the server process (${TEST_DB})`, () => {
  let env: Record<string, string>;
  let dropDatabase = async () => {};
  let server: ServerProcess;

  beforeAll(async () => {
    env = { PORT: String(await freePort()), DATA_DIR: scratchDir('tasks-main-') };
    // As a DATA_DIR made before it had to be owner-only, or copied in by hand, may be.
    chmodSync(env.DATA_DIR as string, 0o755);
    writeFileSync(path.join(env.DATA_DIR as string, 'notes.txt'), 'open to all', { mode: 0o644 });
    const database = await processDatabase();
    dropDatabase = database.drop;
    // The later cases start more processes on the same database.
    Object.assign(env, database.env);
    server = startServer(env);
    await waitForHealthy(server);
  });
  afterAll(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await dropDatabase();
  });

  const call = (method: string, url: string, body?: unknown, token?: string) =>
    fetch(`${server.url}${url}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('registers, invites, logs in and refreshes over HTTP', async () => {
    const username = unique('proc');
    const registered = await call('POST', '/api/auth/register/', {
      username,
      email: `${username}@example.com`,
      password: PASSWORD,
      password_confirm: PASSWORD,
      company_name: unique('Process Co '),
    });
    expect(registered.status).toBe(201);
    const admin = (await registered.json()) as { access: string };
    const invitation = (await (
      await call('POST', '/api/auth/invitations/', { email: `${username}-2@example.com` }, admin.access)
    ).json()) as { token: string };
    const joined = await call('POST', '/api/auth/register/', {
      username: `${username}-2`,
      email: `${username}-2@example.com`,
      password: PASSWORD,
      password_confirm: PASSWORD,
      invitation_token: invitation.token,
    });
    expect(joined.status).toBe(201);
    const login = await call('POST', '/api/auth/login/', { username: `${username}-2`, password: PASSWORD });
    expect(login.status).toBe(200);
    const { refresh } = (await login.json()) as { refresh: string };
    const refreshed = await call('POST', '/api/auth/token/refresh/', { refresh });
    expect(refreshed.status).toBe(200);
    const users = (await (await call('GET', '/api/auth/company-users/', undefined, admin.access)).json()) as {
      count: number;
    };
    expect(users.count).toBe(2);
    // a browser's socket carries its token in the URL, which the server logs (redacted)
    const socket = await TestSocket.open(`${server.url.replace('http', 'ws')}/ws/tasks/`, {
      token: admin.access,
      via: 'query',
    });
    await socket.ofType('connection_established');
    socket.close();
  });

  it('makes DATA_DIR and everything in it owner-only, warning when it was not', () => {
    expect(server.output()).toContain('DATA_DIR was open to other local users: made owner-only');
    const open: string[] = [];
    const visit = (entry: string) => {
      const stat = lstatSync(entry);
      if ((stat.mode & 0o077) !== 0 && !stat.isSymbolicLink()) open.push(entry);
      if (stat.isDirectory()) for (const name of readdirSync(entry)) visit(path.join(entry, name));
    };
    visit(env.DATA_DIR as string);
    expect(open).toEqual([]);
  });

  it('keeps tokens and passwords out of its logs', () => {
    const log = server.output();
    expect(log).toContain('"reqId"');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toMatch(/eyJ[\w-]+\.eyJ/);
    expect(log).toContain('/ws/tasks/?token=[redacted]');
  });

  it.runIf(TEST_DB === 'embedded')('refuses a second process on the same DATA_DIR', async () => {
    const second = startServer({ ...env, PORT: String(await freePort()) });
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/DATA_DIR .* is in use by process/);
  });

  it.runIf(TEST_DB === 'postgres')('warns at start that its superuser login bypasses row-level security', () => {
    const warning = server
      .output()
      .split('\n')
      .find((line) => line.includes('bypasses row-level security'));
    expect(JSON.parse(warning ?? '{}')).toMatchObject({
      level: 40,
      reasons: expect.arrayContaining([expect.stringMatching(/superuser/)]),
    });
  });

  it('stops on a bad setting with a message naming the variable', async () => {
    const bad = startServer({ ...env, PORT: 'eighty' });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('PORT: expected a whole number');
    const badRole = startServer({ ...env, ROLE: 'cron' });
    expect(await badRole.exited).toBe(1);
    expect(badRole.output()).toContain('ROLE: expected one of all, api, worker, got "cron"');
  });

  it.runIf(TEST_DB === 'embedded')(
    'refuses a split role on the embedded database, which one process holds',
    async () => {
      const worker = startServer({ ...env, PORT: String(await freePort()), ROLE: 'worker' });
      expect(await worker.exited).toBe(1);
      expect(worker.output()).toContain('ROLE: worker needs DATABASE_URL');
    },
  );

  it.runIf(TEST_DB === 'postgres')('runs a worker with only health endpoints, stopped by SIGTERM', async () => {
    const worker = startServer({ ...env, PORT: String(await freePort()), ROLE: 'worker' });
    try {
      await waitForHealthy(worker);
      expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${worker.url}/api/auth/login/`, { method: 'POST' })).status).toBe(404);
      expect(worker.output()).toContain('"role":"worker"');
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    }
  });

  it.runIf(TEST_DB === 'postgres')('runs an API process beside the main one on the same database', async () => {
    const api = startServer({ ...env, PORT: String(await freePort()), ROLE: 'api' });
    try {
      await waitForHealthy(api);
      const login = await fetch(`${api.url}/api/auth/login/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'nobody', password: PASSWORD }),
      });
      expect(login.status).toBe(401);
      api.child.kill('SIGTERM');
      expect(await api.exited).toBe(0);
    } finally {
      if (api.child.exitCode === null) api.child.kill('SIGKILL');
    }
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const username = unique('term');
    const seen = server.output().length;
    const inFlight = call('POST', '/api/auth/register/', {
      username,
      email: `${username}@example.com`,
      password: PASSWORD,
      password_confirm: PASSWORD,
      company_name: unique('Term Co '),
    });
    // signal only once the server has taken the request in
    while (!server.output().slice(seen).includes('"url":"/api/auth/register/"')) await sleep(2);
    server.child.kill('SIGTERM');
    expect((await inFlight).status).toBe(201);
    expect(await server.exited).toBe(0);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe(`MIGRATE_ON_START=false (${TEST_DB})`, () => {
  it('refuses to start on a database whose migrations are behind, and starts once they are applied', async () => {
    const env: Record<string, string> = {
      PORT: String(await freePort()),
      DATA_DIR: scratchDir('tasks-nomigrate-'),
      MIGRATE_ON_START: 'false',
    };
    let drop = async () => {};
    if (TEST_DB === 'postgres') {
      const created = await createServerDatabase({ empty: true });
      drop = created.drop;
      env.DATABASE_URL = created.url;
      env.JWT_SECRET = 'migrate-test-secret-0123456789-0123456789';
    }
    try {
      const behind = startServer(env);
      expect(await behind.exited).toBe(1);
      expect(behind.output()).toMatch(/the database is \d+ migration\(s\) behind .*npm run cli -- migrate/);

      const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR as string });
      await db.migrate();
      expect(await db.pendingMigrations()).toBe(0);
      await db.close();

      const current = startServer(env);
      await waitForHealthy(current);
      current.child.kill('SIGTERM');
      expect(await current.exited).toBe(0);
    } finally {
      await drop();
    }
  });
});

/** The pid in the embedded server's postmaster.pid, and its parent (the app's watchdog shell). */
function embeddedServer(dataDir: string): { pid: number; parent: number } {
  const pid = Number.parseInt(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8'), 10);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return { pid, parent: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) };
}

/** Running, not a zombie (an orphan that exited stays one when nothing reaps it). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function gone(pid: number, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return !isAlive(pid);
}

describe.runIf(TEST_DB === 'embedded')('the embedded database after kill -9', () => {
  const dataDir = scratchDir('tasks-kill9-');
  let port: string;
  const servers: ServerProcess[] = [];
  const start = async () => {
    const server = startServer({ PORT: port, DATA_DIR: dataDir });
    servers.push(server);
    await waitForHealthy(server);
    return server;
  };
  afterAll(() => {
    for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  });

  const post = (url: string, body: unknown, token?: string) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });
  const titles = async (url: string, token: string) =>
    (
      (await (
        await fetch(`${url}/api/tasks/?page_size=100`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as {
        results: Array<{ title: string }>;
      }
    ).results
      .map((t) => t.title)
      .sort();

  it('serves again on the same DATA_DIR with every committed write, and leaves no server behind', async () => {
    port = String(await freePort());
    let server = await start();
    const username = unique('kill');
    const registered = await post(`${server.url}/api/auth/register/`, {
      username,
      email: `${username}@example.com`,
      password: PASSWORD,
      password_confirm: PASSWORD,
      company_name: unique('Kill Co '),
    });
    expect(registered.status).toBe(201);
    let { access } = (await registered.json()) as { access: string };
    // Writes in flight when the process dies may or may not be there; every answered one must be.
    const committed: string[] = [];
    const writes = Array.from({ length: 40 }, async (_, i) => {
      const response = await post(`${server.url}/api/tasks/`, { title: `task ${i}` }, access).catch(() => undefined);
      if (response?.status === 201) committed.push(`task ${i}`);
    });
    while (committed.length < 10) await new Promise((r) => setTimeout(r, 1));
    const database = embeddedServer(dataDir);
    server.child.kill('SIGKILL');
    await Promise.all(writes);
    // Its watchdog stops the database the app left.
    expect(await gone(database.pid)).toBe(true);

    server = await start();
    const login = await post(`${server.url}/api/auth/login/`, { username, password: PASSWORD });
    expect(login.status).toBe(200);
    ({ access } = (await login.json()) as { access: string });
    const after = await titles(server.url, access);
    expect(after).toEqual(expect.arrayContaining(committed));

    // Killed together with its watchdog (the shell and its reader of the pipe), the app leaves a
    // server running: the next start stops it.
    const orphan = embeddedServer(dataDir);
    for (const pid of childrenOf(orphan.parent)) if (pid !== orphan.pid) process.kill(pid, 'SIGKILL');
    process.kill(orphan.parent, 'SIGKILL');
    server.child.kill('SIGKILL');
    await server.exited;
    expect(isAlive(orphan.pid)).toBe(true);
    server = await start();
    expect(isAlive(orphan.pid)).toBe(false);
    const again = (await (await post(`${server.url}/api/auth/login/`, { username, password: PASSWORD })).json()) as {
      access: string;
    };
    expect(await titles(server.url, again.access)).toEqual(after);

    // A clean stop stops the database before the app exits.
    const last = embeddedServer(dataDir).pid;
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(isAlive(last)).toBe(false);
  });

  it('ends when its database is killed, and the next start recovers it', async () => {
    let server = await start();
    process.kill(embeddedServer(dataDir).pid, 'SIGKILL');
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('The embedded PostgreSQL stopped unexpectedly');
    server = await start();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
