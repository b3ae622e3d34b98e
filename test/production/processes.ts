import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PASSWORD, unique } from '../helpers.ts';
import { freePort, type ServerProcess } from '../process.ts';
import { sleep, until } from '../timing.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The process types of deploy/Procfile: name → command line, as a Procfile runner reads them. */
export function readProcfile(): Record<string, string> {
  const lines = readFileSync(path.join(root, 'deploy/Procfile'), 'utf8').split('\n');
  const entries = lines
    .map((line) => /^([A-Za-z0-9_-]+):\s*(.+)$/.exec(line.trim()))
    .filter((match) => match !== null)
    .map((match) => [match[1] as string, match[2] as string]);
  return Object.fromEntries(entries);
}

/**
 * Runs one Procfile line as a Procfile runner does (`sh -c`, in the app's directory, with the
 * environment given), waiting for nothing. `port` is where the process will listen.
 */
export function startProcess(command: string, env: Record<string, string>, port: number): ServerProcess {
  let output = '';
  const child = spawn('sh', ['-c', command], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (chunk: Buffer) => {
    output += chunk;
    // Only the last part is kept: a process under load for a minute logs a lot.
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** Whether a process still runs, and the end of what it wrote: for a failure's message. */
export function describeProcess(server: ServerProcess): string {
  const { exitCode, signalCode } = server.child;
  const state = exitCode !== null || signalCode !== null ? `exited (${exitCode ?? signalCode})` : 'is running';
  return `${state}; it wrote last:\n${server.output().slice(-4_000)}`;
}

/** Stops a process with SIGTERM and waits for it; SIGKILL after `graceMs`. Resolves with the exit code. */
export async function stopProcess(server: ServerProcess, graceMs = 30_000): Promise<number | null> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.child.exitCode;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
  try {
    return await server.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A redis-server of the test's own on a free loopback port, which the test may stop and start again. */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    await until(
      () => {
        if (child.exitCode !== null) throw new Error('redis-server exited');
        execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { stdio: 'pipe' });
        return true;
      },
      10_000,
      `redis on ${this.port}`,
    );
  }

  /** SIGTERM, as an orchestrator stops it; resolves once it has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL 15 cluster of the test's own: initdb into a temporary directory (as the postgres
 * user, since initdb refuses root), listening on a free loopback port, socket in that directory.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'tasks-private-pg-'));
    const cluster = new PrivatePostgres(await freePort(), dir);
    if (process.getuid?.() === 0)
      chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])));
    cluster.run('initdb', [
      '-D',
      cluster.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    await cluster.start();
    return cluster;
  }

  get dataDir() {
    return path.join(this.dir, 'data');
  }

  url(database = 'postgres') {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private run(binary: string, args: string[]) {
    const command = path.join(PG_BIN, binary);
    const asRoot = process.getuid?.() === 0;
    return execFileSync(asRoot ? 'runuser' : command, asRoot ? ['-u', 'postgres', '--', command, ...args] : args, {
      stdio: 'pipe',
      cwd: this.dir,
    });
  }

  async start(): Promise<void> {
    this.run('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      path.join(this.dir, 'log'),
      '-w',
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`,
      'start',
    ]);
    await until(
      async () => {
        const client = new pg.Client({ connectionString: this.url() });
        await client.connect();
        await client.end();
        return true;
      },
      15_000,
      'private postgres',
    );
  }

  /** pg_ctl stop: `fast` ends sessions (as a restart does), `immediate` is a crash. */
  stop(mode: 'fast' | 'immediate' = 'fast') {
    this.run('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  destroy() {
    try {
      this.stop('immediate');
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What a client may retry on another process: the connection failed, so the request was not answered. */
export function isConnectionFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (
      code === 'ECONNREFUSED' ||
      code === 'ECONNRESET' ||
      code === 'EPIPE' ||
      code === 'UND_ERR_SOCKET' ||
      code === 'UND_ERR_CLOSED'
    ) {
      return true;
    }
    current = (current as Error & { cause?: unknown }).cause;
  }
  return false;
}

export interface Answer {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
  backend: number;
  /** Connection failures retried on another process before this answer. */
  retries: number;
}

/**
 * A client-side load balancer: round-robin over the processes; a request whose connection is
 * refused or reset goes to the next one (after a short pause when all seem down). Anything else
 * (an HTTP answer of any status, or a timeout) is the caller's to judge.
 */
export class Balancer {
  private next = 0;
  retried = 0;
  /** When each answered request was sent and answered, and by which process. */
  readonly timeline: Array<{ backend: number; sent: number; answered: number }> = [];

  constructor(
    readonly urls: string[],
    private readonly timeoutMs = 10_000,
    private readonly giveUpMs = 30_000,
  ) {}

  /** A company of its own, registered through these processes: its admin's access token. */
  async registerCompany(name: string): Promise<string> {
    const username = unique(name.toLowerCase().replace(/\W/g, ''));
    const registered = await this.request('POST', '/api/auth/register/', {
      body: {
        username,
        email: `${username}@example.com`,
        password: PASSWORD,
        password_confirm: PASSWORD,
        company_name: unique(`${name} `),
      },
    });
    if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${registered.text}`);
    return (registered.body as { access: string }).access;
  }

  async request(
    method: string,
    url: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const started = Date.now();
    let retries = 0;
    for (;;) {
      const backend = this.next++ % this.urls.length;
      const sent = performance.now();
      try {
        const response = await fetch(`${this.urls[backend]}${url}`, {
          method,
          headers: {
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
            ...options.headers,
          },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await response.text();
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = text;
        }
        this.timeline.push({ backend, sent, answered: performance.now() });
        return { status: response.status, body, text, headers: response.headers, backend, retries };
      } catch (error) {
        if (!isConnectionFailure(error) || Date.now() - started > this.giveUpMs) throw error;
        retries += 1;
        this.retried += 1;
        if (retries % this.urls.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** Polls until `check` holds; resolves with the milliseconds it took. */
export async function timeUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    try {
      if (await check()) return performance.now() - started;
    } catch {
      // not yet
    }
    await sleep(everyMs);
  }
  throw new Error(`not within ${timeoutMs} ms`);
}
