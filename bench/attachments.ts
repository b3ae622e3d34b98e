/**
 * Attachments against the local disk: one server process (PostgreSQL at 5432, DATA_DIR in the
 * system's temporary directory), uploading and downloading 100 MB as four 25 MB files one at a
 * time, against `dd` writing the same bytes to the same directory (fsync'd, as the server's
 * storage does) in the same run; then the server's RSS while 10 uploads of 25 MB run at once,
 * against its RSS at idle. The goals: uploads at least half of dd's rate; under 100 MB above idle.
 *
 * Usage: npx tsx bench/attachments.ts [rounds=3]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, startServer, waitForHealthy } from '../test/process.ts';

const rounds = Number(process.argv[2] ?? 3);
const MB = 1024 * 1024;
const FILE_MB = 25;
const FILES = 4;
const CONCURRENT = 10;
const BOUNDARY = 'bench-boundary-5b1d0c';

const rssMb = (pid: number) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) / 1024;
};
/** CPU seconds the process has used (user + system), from /proc. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

const dataDir = mkdtempSync(path.join(tmpdir(), 'tasks-attachments-bench-'));
const database = await createServerDatabase();
const port = await freePort();
const server = startServer({
  PORT: String(port),
  DATA_DIR: dataDir,
  DATABASE_URL: database.url,
  JWT_SECRET: 'attachments-bench-secret-0123456789-0123456789',
  LOG_LEVEL: 'warn',
  RATE_LIMIT: '1000000',
  AUTH_RATE_LIMIT: '1000000',
  ATTACHMENT_MAX_MB: String(FILE_MB),
  STORAGE_QUOTA_MB: '100000',
  EXTERNAL_TASKS_URL: 'http://127.0.0.1:9/todos',
});
const pid = server.child.pid as number;

async function json<T>(response: Response): Promise<T> {
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

try {
  await waitForHealthy(server);
  const base = server.url;
  const { access } = await json<{ access: string }>(
    await fetch(`${base}/api/auth/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'bench',
        email: 'bench@example.com',
        password: 'bench-password-words',
        password_confirm: 'bench-password-words',
        first_name: 'B',
        last_name: 'B',
        company_name: 'Bench',
      }),
    }),
  );
  const auth = { authorization: `Bearer ${access}` };
  const task = await json<{ id: number }>(
    await fetch(`${base}/api/tasks/`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Files' }),
    }),
  );
  // Random bytes: nothing along the way can compress them.
  const content = randomBytes(FILE_MB * MB);
  const source = path.join(dataDir, 'source.bin');
  writeFileSync(source, content);

  // node:http rather than fetch: undici's FormData and body streams cost the client more CPU than
  // the server spends, on the same two cores.
  const send = (method: string, url: string, body?: Buffer[]) =>
    new Promise<{ status: number; bytes: number; text: string }>((resolve, reject) => {
      const request = httpRequest(`${base}${url}`, {
        method,
        headers: {
          ...auth,
          ...(body === undefined
            ? {}
            : {
                'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
                'content-length': body.reduce((n, part) => n + part.length, 0),
              }),
        },
      });
      request.on('error', reject);
      request.on('response', (response) => {
        let bytes = 0;
        let text = '';
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (text.length < 10_000) text += chunk.toString();
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes, text }));
        response.on('error', reject);
      });
      for (const part of body ?? []) request.write(part);
      request.end();
    });
  const upload = async (name: string) => {
    const head = Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const answer = await send('POST', `/api/tasks/${task.id}/attachments/`, [
      head,
      content,
      Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
    ]);
    if (answer.status !== 201) throw new Error(`upload: ${answer.status} ${answer.text}`);
    return JSON.parse(answer.text) as { id: number; download_url: string };
  };
  const download = async (url: string) => {
    const answer = await send('GET', url);
    if (answer.status !== 200 || answer.bytes !== content.length)
      throw new Error(`download: ${answer.status}, ${answer.bytes} bytes`);
  };
  const dd = () => {
    const started = performance.now();
    for (let i = 0; i < FILES; i++) {
      execFileSync('dd', [`if=${source}`, `of=${path.join(dataDir, `dd${i}.bin`)}`, 'bs=1M', 'conv=fsync'], {
        stdio: 'ignore',
      });
    }
    const seconds = (performance.now() - started) / 1000;
    for (let i = 0; i < FILES; i++) rmSync(path.join(dataDir, `dd${i}.bin`));
    return (FILES * FILE_MB) / seconds;
  };

  // Memory first, from a server that has served nothing big yet: idle, then the peak while 10
  // uploads of 25 MB run at once.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idle = rssMb(pid);
  let peak = idle;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 20);
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => upload(`concurrent-${i}.bin`)));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  console.log(
    `${CONCURRENT} concurrent uploads of ${FILE_MB} MB in ${seconds.toFixed(1)} s: server RSS idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, +${(peak - idle).toFixed(0)} MB (goal < 100: ${peak - idle < 100 ? 'met' : 'NOT MET'}); load ${loadAverage()}`,
  );

  const rows: Array<{ dd: number; up: number; down: number }> = [];
  for (let round = 1; round <= rounds; round++) {
    const ddRate = dd();
    const cpuBefore = cpuSeconds(pid);
    let started = performance.now();
    const uploaded = [];
    for (let i = 0; i < FILES; i++) uploaded.push(await upload(`round${round}-${i}.bin`));
    const up = (FILES * FILE_MB) / ((performance.now() - started) / 1000);
    const upCpu = cpuSeconds(pid) - cpuBefore;
    started = performance.now();
    for (const file of uploaded) await download(file.download_url);
    const down = (FILES * FILE_MB) / ((performance.now() - started) / 1000);
    rows.push({ dd: ddRate, up, down });
    console.log(
      `round ${round}: dd ${ddRate.toFixed(0)} MB/s, upload ${up.toFixed(0)} MB/s (${((up / ddRate) * 100).toFixed(0)}% of dd; server CPU ${upCpu.toFixed(2)} s), download ${down.toFixed(0)} MB/s; load ${loadAverage()}`,
    );
  }
  const ratio = median(rows.map((r) => r.up / r.dd));
  console.log(
    `median: dd ${median(rows.map((r) => r.dd)).toFixed(0)} MB/s, upload ${median(rows.map((r) => r.up)).toFixed(0)} MB/s, download ${median(rows.map((r) => r.down)).toFixed(0)} MB/s; upload/dd ${ratio.toFixed(2)} (goal ≥ 0.5: ${ratio >= 0.5 ? 'met' : 'NOT MET'})`,
  );
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await database.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
