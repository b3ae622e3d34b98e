/**
 * Login and an authenticated GET /api/auth/profile/ under load: 50 connections, 10 s each, against
 * a server process on the embedded database and on PostgreSQL.
 * Usage: npx tsx bench/auth.ts [embedded|postgres|both] [seconds=10]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, startServer, waitForHealthy } from '../test/process.ts';

const which = process.argv[2] ?? 'both';
const duration = Number(process.argv[3] ?? 10);
const PASSWORD = 'correct-horse-battery-staple';

async function load(title: string, options: autocannon.Options) {
  const result = await autocannon({ connections: 50, duration, ...options });
  const non2xx = result.non2xx + result.errors + result.timeouts;
  console.log(
    `  ${title.padEnd(34)} ${result.requests.average.toFixed(0).padStart(6)} req/s   p50 ${result.latency.p50} ms   p99 ${result.latency.p99} ms   failures ${non2xx}`,
  );
}

async function bench(driver: 'embedded' | 'postgres') {
  const env: Record<string, string> = {
    PORT: String(await freePort()),
    DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tasks-bench-')),
    AUTH_RATE_LIMIT: '1000000',
    RATE_LIMIT: '1000000',
    LOG_LEVEL: 'warn',
  };
  let drop = async () => {};
  if (driver === 'postgres') {
    const created = await createServerDatabase({ empty: true });
    drop = created.drop;
    env.DATABASE_URL = created.url;
    env.JWT_SECRET = 'bench-secret-0123456789-0123456789-0123456789';
  }
  const server = startServer(env);
  try {
    await waitForHealthy(server);
    const register = await fetch(`${server.url}/api/auth/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'bench',
        email: 'bench@example.com',
        password: PASSWORD,
        password_confirm: PASSWORD,
        company_name: 'Bench Co',
      }),
    });
    if (register.status !== 201) throw new Error(`register: ${register.status} ${await register.text()}`);
    const { access } = (await register.json()) as { access: string };
    console.log(`${driver}:`);
    await load('POST /api/auth/login/', {
      url: `${server.url}/api/auth/login/`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench', password: PASSWORD }),
    });
    await load('GET /api/auth/profile/', {
      url: `${server.url}/api/auth/profile/`,
      headers: { authorization: `Bearer ${access}` },
    });
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await drop();
  }
}

for (const driver of ['embedded', 'postgres'] as const) {
  if (which === driver || which === 'both') await bench(driver);
}
