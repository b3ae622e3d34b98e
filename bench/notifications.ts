/**
 * Email throughput: N emails due at the same moment (or spread evenly over S seconds), W worker
 * processes (ROLE=worker, what `npm start` runs) on PostgreSQL, a real SMTP server (smtp-server)
 * in this process as the sink. Reports emails per second, the workers' CPU per email, and how late
 * each arrived at the SMTP server against its own due time, and the CPU each side spent per email.
 * Usage: npx tsx bench/notifications.ts [emails=10000] [workers=2] [spreadSeconds=0]
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { seedAccounts } from '../src/accounts/seed.ts';
import { createNotificationQueues, QUEUES } from '../src/notifications/jobs.ts';
import { openPostgres, queryRows } from '../src/platform/db/index.ts';
import { Jobs } from '../src/platform/jobs/index.ts';
import { createServerDatabase } from '../test/databases.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../test/process.ts';
import { SmtpSink } from '../test/smtp.ts';

const emails = Number(process.argv[2] ?? 10_000);
const workerCount = Number(process.argv[3] ?? 2);
const spreadMs = Number(process.argv[4] ?? 0) * 1000;
const LEAD_SECONDS = 40;

/** CPU seconds (user + system) a process has used, from /proc: robust to whatever else the machine runs. */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of every PostgreSQL server process, which serve the workers' connections. */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.split(') ')[1]?.split(' ') ?? [];
      total += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;

const database = await createServerDatabase();
const db = openPostgres({ url: database.url });
const sink = await new SmtpSink().start();
const workers: ServerProcess[] = [];
const settings = { notificationRetryDelaySeconds: 30, notificationSendTimeoutSeconds: 60 };
const jobs = new Jobs(db, { logger: console, processing: false });
try {
  await jobs.start();
  await createNotificationQueues(jobs, settings);
  const [company] = await seedAccounts(db, { companies: 1, usersPerCompany: 2 });
  if (company === undefined) throw new Error('no company seeded');
  const due = new Date(Date.now() + LEAD_SECONDS * 1000);

  // Tasks assigned to the member by the admin, and an email about each, the n-th due at dueOf(n).
  const dueOf = (n: number) => due.getTime() + Math.floor((n / emails) * spreadMs);
  const ids = await db.unsafeSystem(async (tx) => {
    const [member, admin] = await queryRows<{ id: number }>(
      tx,
      sql`select id from users where company_id = ${company.id} order by role desc, id`,
    );
    await tx.execute(sql`
      insert into tasks (company_id, title, assigned_to, created_by)
      select ${company.id}, 'Bench task ' || g, ${member?.id}, ${admin?.id} from generate_series(1, ${emails}::int) g`);
    return queryRows<{ id: number }>(
      tx,
      sql`insert into notifications (company_id, kind, task_id, recipient_id, recipient, actor_id, subject, scheduled_for)
          select t.company_id, 'assigned', t.id, t.assigned_to, u.email, t.created_by, 'Assigned to you: ' || t.title,
                 ${due}::timestamptz + make_interval(secs => (row_number() over (order by t.id) - 1) * ${spreadMs / 1000 / emails}::float8)
            from tasks t join users u on u.company_id = t.company_id and u.id = t.assigned_to
           where t.company_id = ${company.id}
          order by t.id
          returning id`,
    );
  });
  const enqueueStarted = Date.now();
  for (let i = 0; i < ids.length; i += 500) {
    await db.unsafeSystem(async (tx) => {
      // pg-boss counts the delay from now(), the transaction's start: about when this runs.
      const start = Date.now();
      for (const [n, { id }] of ids.slice(i, i + 500).entries()) {
        await jobs.send(
          tx,
          QUEUES.send,
          { companyId: company.id, notificationId: id },
          { startAfterSeconds: (dueOf(i + n) - start) / 1000 },
        );
      }
    });
  }
  console.log(`${emails} emails recorded and queued in ${((Date.now() - enqueueStarted) / 1000).toFixed(1)} s`);

  for (let i = 0; i < workerCount; i++) {
    workers.push(
      startServer(
        {
          ROLE: 'worker',
          PORT: String(await freePort()),
          DATA_DIR: mkdtempSync(path.join(tmpdir(), 'mail-bench-')),
          DATABASE_URL: database.url,
          JWT_SECRET: 'mail-bench-secret-0123456789-0123456789',
          SMTP_URL: sink.url,
          LOG_LEVEL: 'warn',
        },
        'src/main.ts',
        // BENCH_CPU_PROF=<dir> writes a CPU profile of each worker there when it stops.
        process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [],
      ),
    );
  }
  await Promise.all(workers.map((w) => waitForHealthy(w)));
  const wait = due.getTime() - Date.now();
  if (wait < 0) console.warn(`warning: setup ran ${-wait} ms past the due time; raise LEAD_SECONDS`);
  console.log(`${workerCount} workers ready; due in ${(wait / 1000).toFixed(1)} s`);

  const cpuBefore = workers.map((w) => cpuSeconds(w.child.pid));
  const postgresBefore = postgresCpuSeconds();
  const sinkBefore = process.cpuUsage();
  await sink.waitFor(() => sink.received.length >= emails, LEAD_SECONDS * 1000 + 600_000);
  const workerCpu = workers.reduce((sum, w, i) => sum + cpuSeconds(w.child.pid) - (cpuBefore[i] ?? 0), 0);
  const postgresCpu = postgresCpuSeconds() - postgresBefore;
  const sinkUsage = process.cpuUsage(sinkBefore);
  const sinkCpu = (sinkUsage.user + sinkUsage.system) / 1e6;
  await new Promise((r) => setTimeout(r, 2_000));
  const arrivals = sink.received.map((m) => m.receivedAt).sort((a, b) => a - b);
  const position = new Map(ids.map(({ id }, n) => [`notification-${company.id}-${id}@localhost`, n]));
  const latenessOf = (m: (typeof sink.received)[number]) => m.receivedAt - dueOf(position.get(m.messageId) ?? 0);
  const lateness = sink.received.map(latenessOf).sort((a, b) => a - b);
  // By tenth of the due times, in due order: a tail from a cold start differs from a steady one.
  const tenths = Array.from({ length: 10 }, (_, t) =>
    sink.received
      .filter((m) => Math.floor(((position.get(m.messageId) ?? 0) * 10) / emails) === t)
      .map(latenessOf)
      .sort((a, b) => a - b),
  );
  const first = arrivals[0] as number;
  const last = arrivals[arrivals.length - 1] as number;
  const unique = new Set(sink.received.map((m) => m.messageId)).size;
  const [states] = await db.unsafeSystem((tx) =>
    queryRows<{ sent: number; other: number }>(
      tx,
      sql`select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status <> 'sent')::int as other from notifications`,
    ),
  );
  console.log(
    JSON.stringify(
      {
        emails,
        workers: workerCount,
        received: sink.received.length,
        unique,
        recordsSent: states?.sent,
        recordsNotSent: states?.other,
        spreadSeconds: spreadMs / 1000,
        emailsPerSecond: Math.round(emails / ((last - due.getTime()) / 1000)),
        emailsPerSecondFirstToLast: Math.round(emails / ((last - first) / 1000)),
        workerCpuMsPerEmail: Number(((workerCpu * 1000) / emails).toFixed(2)),
        postgresCpuMsPerEmail: Number(((postgresCpu * 1000) / emails).toFixed(2)),
        // the SMTP sink, and this process's waiting: what a real mail server would spend instead
        benchCpuMsPerEmail: Number(((sinkCpu * 1000) / emails).toFixed(2)),
        loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
        latenessMs: {
          min: lateness[0],
          p50: percentile(lateness, 0.5),
          p90: percentile(lateness, 0.9),
          p99: percentile(lateness, 0.99),
          max: lateness[lateness.length - 1],
        },
        latenessP50P99ByDueTenth: tenths.map((l) => `${percentile(l, 0.5)}/${percentile(l, 0.99)}`).join(' '),
      },
      null,
      2,
    ),
  );
} finally {
  for (const worker of workers) worker.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await jobs.stop();
  await db.close();
  await sink.close();
  await database.drop();
}
