/**
 * The management commands, as Django's manage.py has them: `npm run cli -- <command> [flags]`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SEED_PASSWORD, seedAccounts } from './accounts/seed.ts';
import { seedComments } from './comments/seed.ts';
import { seedLabels } from './labels/seed.ts';
import { type Config, ConfigError, loadConfig, resolveJwtSecret } from './platform/config.ts';
import { ownerOnlyDataDir } from './platform/data-dir.ts';
import { type Database, openDatabase } from './platform/db/index.ts';
import { DataDirLockedError } from './platform/db/lock.ts';
import { createLoginRole } from './platform/db/login-role.ts';
import { ImportRefusedError, importPglite } from './platform/db/pglite-import.ts';
import { HttpError } from './platform/errors.ts';
import { type JobSummary, Jobs } from './platform/jobs/index.ts';
import { seedProjects } from './projects/seed.ts';
import { createServices, type Services } from './services.ts';
import { companiesWithoutTasks, seedTasks } from './tasks/seed.ts';

const USAGE = `Usage: npm run cli -- <command> [flags]

Commands:
  migrate                       apply pending database migrations
  createadmin --company NAME --username NAME --email ADDRESS --password PASSWORD
              [--first-name NAME] [--last-name NAME]
                                create a company and its admin user
  seed [--companies N] [--users N] [--tasks N] [--heavy N]
                                sample data: three companies (or N generated ones), each with an admin,
                                --users - 1 members (default 5 users) and a guest, password
                                "${SEED_PASSWORD}"; six labels; projects Web site (WEB, a Review status),
                                Mobile app (APP, Blocked and QA) and the private Finance (FIN) beside
                                General (GEN); --tasks tasks in General (default 50), half as many
                                more in the others (--heavy N: the first company gets N tasks spread
                                over all its projects instead). Companies with tasks get no more.
  create-login-role NAME [--password PASSWORD]
                                (PostgreSQL, run as the tables' owner) a role for the application to log
                                in as that row-level security binds: not superuser, not owner, allowed
                                to switch to the application roles; see Production in the README
  jobs                          queued, active and failed jobs, and the schedules
  jobs retry ID                 run a failed job once more
  import-pglite [--from DIR]    carry over the PGlite database of an earlier version (DATA_DIR/pgdata
                                unless --from) into this database, which must have no company yet
`;

type Command = (db: Database, args: string[], config: Config) => Promise<void>;

const commands: Record<string, Command> = {
  async migrate() {
    // openDatabase + migrate below already did it; saying so is the command's whole output.
    console.log('Migrations applied.');
  },

  async createadmin(db, args) {
    const { values } = parseArgs({
      args,
      options: {
        company: { type: 'string' },
        username: { type: 'string' },
        email: { type: 'string' },
        password: { type: 'string' },
        'first-name': { type: 'string' },
        'last-name': { type: 'string' },
      },
    });
    const missing = ['company', 'username', 'email', 'password'].filter(
      (k) => values[k as keyof typeof values] === undefined,
    );
    if (missing.length > 0) throw new UsageError(`createadmin needs --${missing.join(', --')}`);
    const password = values.password as string;
    const { user } = await withServices(db, ({ accounts }) =>
      accounts.createAccount(
        {
          company_name: values.company,
          username: values.username as string,
          email: values.email as string,
          password,
          password_confirm: password,
          first_name: values['first-name'],
          last_name: values['last-name'],
        },
        async () => ({}),
      ),
    );
    console.log(
      `Created company "${user.company.name}" (id ${user.company.id}) with admin ${user.username} (id ${user.id}).`,
    );
  },

  async 'create-login-role'(db, args, config) {
    if (config.databaseUrl === undefined)
      throw new UsageError(
        'create-login-role is for a PostgreSQL server the app logs in to (DATABASE_URL), not the embedded database, which is the app’s own',
      );
    const { values, positionals } = parseArgs({
      args,
      options: { password: { type: 'string' } },
      allowPositionals: true,
    });
    const [name, ...rest] = positionals;
    if (name === undefined || rest.length > 0) throw new UsageError('create-login-role needs one role name');
    try {
      await createLoginRole(db, name, values.password);
    } catch (error) {
      if (error instanceof Error && !('code' in error)) throw new UsageError(error.message);
      throw error;
    }
    console.log(
      `Role ${name} can log in and switch to tasks_app and tasks_system; it owns the pgboss schema. Run the application as it (DATABASE_URL with ${name}) and migrations as the owner.`,
    );
  },

  async seed(db, args) {
    const { values } = parseArgs({
      args,
      options: {
        companies: { type: 'string' },
        users: { type: 'string' },
        tasks: { type: 'string' },
        heavy: { type: 'string' },
      },
    });
    const companies = values.companies === undefined ? undefined : positive('--companies', values.companies);
    const usersPerCompany = values.users === undefined ? 5 : positive('--users', values.users);
    const tasksPerCompany = values.tasks === undefined ? 50 : positive('--tasks', values.tasks);
    const heavy = values.heavy === undefined ? undefined : positive('--heavy', values.heavy);
    const seeded = await seedAccounts(db, { companies, usersPerCompany, guest: true });
    const ids = seeded.map((c) => c.id);
    await seedLabels(db, ids);
    const projects = await seedProjects(db, ids);
    const empty = await companiesWithoutTasks(db, ids);
    const heavyOne = heavy !== undefined && empty[0] === ids[0] ? ids[0] : undefined;
    const light = empty.filter((id) => id !== heavyOne);
    let tasks = 0;
    if (heavyOne !== undefined) {
      tasks += await seedTasks(db, { companyIds: [heavyOne], tasksPerCompany: heavy as number, projects: 'all' });
    }
    // The default project's board as before (the browser test counts it), and some work elsewhere.
    tasks += await seedTasks(db, { companyIds: light, tasksPerCompany, projects: 'default' });
    tasks += await seedTasks(db, {
      companyIds: light,
      tasksPerCompany: Math.ceil(tasksPerCompany / 2),
      projects: 'others',
    });
    // A few comments on every new task, three on the heavy company's: searches find tasks by them too.
    let comments = 0;
    if (heavyOne !== undefined) comments += await seedComments(db, { companyIds: [heavyOne], perTask: 3 });
    comments += await seedComments(db, { companyIds: light, perTask: 1 });
    // Planner statistics for the rows just written, rather than whenever autovacuum comes by.
    await db.client.query('analyze');
    for (const company of seeded.slice(0, 5)) {
      console.log(`  ${company.name} (id ${company.id}): admin ${company.admin}, guest ${company.guest} (in WEB)`);
    }
    if (seeded.length > 5) console.log(`  ... and ${seeded.length - 5} more`);
    console.log(
      `Seeded ${seeded.length} companies with ${usersPerCompany} users and a guest each, ${projects} new projects, ${tasks} new tasks and ${comments} comments; password "${SEED_PASSWORD}".`,
    );
  },

  async 'import-pglite'(db, args) {
    const { values } = parseArgs({ args, options: { from: { type: 'string' } } });
    const from = path.resolve(values.from ?? path.join(loadConfig().dataDir, 'pgdata'));
    // pg-boss's schema must exist to take its queues and jobs.
    const report = await withJobs(db, () => importPglite(db, from));
    for (const { table, rows } of report.tables) if (rows > 0) console.log(`  ${table}: ${rows} rows`);
    console.log(`Imported ${from}. The app no longer reads it: delete it once you have checked your data.`);
  },

  async jobs(db, args) {
    const [action, id, ...rest] = args;
    if (action === 'retry') {
      if (id === undefined || rest.length > 0) throw new UsageError('jobs retry needs one job id');
      const retried = await withJobs(db, (jobs) => jobs.retry(id));
      if (!retried) throw new UsageError(`no failed job has the id ${id}`);
      console.log(`Job ${id} will run again.`);
      return;
    }
    if (action !== undefined) throw new UsageError(`unknown jobs action "${action}"`);
    await withJobs(db, async (jobs) => {
      const sections: Array<[string, Parameters<Jobs['list']>[0]]> = [
        ['Active', ['active']],
        ['Queued', ['created', 'retry']],
        ['Failed', ['failed']],
      ];
      for (const [title, states] of sections) {
        const listed = await jobs.list(states);
        console.log(`${title} (${listed.length}${listed.length === 100 ? '+' : ''}):`);
        for (const job of listed) console.log(describeJob(job));
      }
      console.log('Scheduled:');
      for (const schedule of await jobs.schedules()) {
        console.log(`  ${schedule.queue.padEnd(22)} ${schedule.cron} (${schedule.timezone})`);
      }
    });
  },
};

const when = (date: Date | null) => (date === null ? '-' : date.toISOString().replace('T', ' ').slice(0, 19));

function describeJob(job: JobSummary): string {
  const attempt = `${job.retryCount + 1}/${job.retryLimit + 1}`;
  const timing = job.state === 'active' ? `started ${when(job.startedOn)}` : `due ${when(job.startAfter)}`;
  const error = (job.output as { message?: string } | null)?.message;
  const line = `  ${job.id}  ${job.queue.padEnd(22)} attempt ${attempt.padEnd(5)} ${timing}  ${JSON.stringify(job.data)}`;
  return error === undefined ? line : `${line}\n      ${error}`;
}

/** The services as the API has them; the commands using them send no jobs, so the queue is not started. */
async function withServices<T>(db: Database, fn: (services: Services) => Promise<T>): Promise<T> {
  const services = createServices(
    resolveJwtSecret(loadConfig()),
    db,
    new Jobs(db, { logger: console, processing: false }),
  );
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

/** pg-boss on the command's own connection; it processes nothing. */
async function withJobs<T>(db: Database, fn: (jobs: Jobs) => Promise<T>): Promise<T> {
  const jobs = new Jobs(db, { logger: console, processing: false });
  await jobs.start();
  try {
    return await fn(jobs);
  } finally {
    await jobs.stop();
  }
}

class UsageError extends Error {}

function positive(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} needs a positive whole number`);
  return Number(value);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const command = name === undefined ? undefined : commands[name];
  if (command === undefined) {
    console.error(name === undefined || name === 'help' ? USAGE : `Unknown command "${name}".\n\n${USAGE}`);
    return name === 'help' ? 0 : 2;
  }
  let db: Database;
  let config: Config;
  try {
    config = loadConfig();
    const tightened = ownerOnlyDataDir(config.dataDir);
    if (tightened.length > 0)
      console.warn(`DATA_DIR was open to other local users: made ${tightened.length} entries owner-only`);
    db = await openDatabase(config);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  try {
    await db.migrate();
    await command(db, args, config);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) console.error(`${error.message}\n\n${USAGE}`);
    else if (error instanceof ImportRefusedError) console.error(error.message);
    else if (error instanceof HttpError) {
      for (const [field, messages] of Object.entries(error.body))
        console.error(`${field}: ${[messages].flat().join(' ')}`);
    } else if (error instanceof Error && error.name === 'TypeError' && /parseArgs|option/i.test(error.message)) {
      console.error(`${error.message}\n\n${USAGE}`);
    } else throw error;
    return 2;
  } finally {
    await db.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
