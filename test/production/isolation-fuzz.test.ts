import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  createTestContext,
  json,
  type Method,
  registerCompany,
  requestsTo,
  type Session,
  TEST_DB,
  type TestContext,
} from '../helpers.ts';
import { Random, seedFrom } from '../random.ts';

/**
 * Company isolation under 10,000 random requests (ISOLATION_REQUESTS), from a fixed seed (FUZZ_SEED
 * reproduces a run): three companies with people, tasks, history, deleted tasks, invitations and
 * idempotency keys, each marked with a string of its own. Users of one company read, change and
 * delete the others' tasks, people and invitations by id, read the emails about the others' tasks,
 * filter their own lists by the others' user ids and tasks and search for the others' words, eight
 * requests at a time. No answer may carry another
 * company's data, every write across companies must be refused (404, or 400 for another company's
 * assignee, or 403 where only admins may act), and every table must be exactly as it was.
 */

const REQUESTS = Number(process.env.ISOLATION_REQUESTS ?? 10_000);
const SEED = seedFrom('FUZZ_SEED', 7_777);
const CONCURRENCY = 8;
const COMPANIES = 3;

interface Company {
  index: number;
  id: number;
  /** In every name, title, description and address of this company, and nowhere else. */
  marker: string;
  admin: Session;
  members: Session[];
  actors: Session[];
  userIds: number[];
  taskIds: number[];
  deletedTaskIds: number[];
  invitationIds: number[];
  idempotencyKeys: string[];
  /** ETags of its tasks, for If-Match headers sent by strangers. */
  etags: string[];
}

interface Op {
  name: string;
  method: Method;
  url: string;
  headers?: Record<string, string>;
  payload?: unknown;
  /** Statuses this request may get; anything else is a failure. */
  expect: number[];
  /** For a list filtered to another company's ids or words: it must come back empty. */
  empty?: boolean;
}

type Body = null | boolean | number | string | Body[] | { [key: string]: Body };

describe(`company isolation under random cross-company requests (${TEST_DB})`, () => {
  let ctx: TestContext;
  let app: FastifyInstance;
  const companies: Company[] = [];

  const { call } = requestsTo(() => app);

  beforeAll(async () => {
    ctx = await createTestContext({
      authRateLimit: 1_000_000,
      rateLimit: 1_000_000,
      externalTasksUrl: 'http://127.0.0.1:9/todos',
      externalTasksTimeoutMs: 200,
    });
    app = ctx.app;
    for (let index = 0; index < COMPANIES; index++) {
      const marker = `zq${index}x${Math.random().toString(36).slice(2, 8)}`;
      const admin = await registerCompany(app, {
        username: `${marker}_admin`,
        email: `${marker}_admin@${marker}.example.com`,
        company_name: `Company ${marker}`,
        first_name: `First${marker}`,
        last_name: `Last${marker}`,
      });
      const members = [await addMember(app, admin), await addMember(app, admin)];
      // addMember names people itself: give them the company's marker through their profiles.
      for (const member of members) {
        const renamed = await call(member, 'PATCH', '/api/auth/profile/', {
          first_name: `First${marker}`,
          last_name: `Last${marker}`,
          email: `${marker}_${member.user.id}@${marker}.example.com`,
        });
        expect(renamed.statusCode).toBe(200);
      }
      const removed = await addMember(app, admin);
      expect((await call(admin, 'DELETE', `/api/auth/company-users/${removed.user.id}/`)).statusCode).toBe(204);
      const company: Company = {
        index,
        id: admin.user.company.id,
        marker,
        admin,
        members,
        actors: [admin, ...members],
        userIds: [admin.user.id, ...members.map((m) => m.user.id), removed.user.id],
        taskIds: [],
        deletedTaskIds: [],
        invitationIds: [],
        idempotencyKeys: [],
        etags: [],
      };
      for (let t = 0; t < 14; t++) {
        const author = company.actors[t % 3] as Session;
        const key = `${marker}-key-${t}`;
        const created = await call(
          author,
          'POST',
          '/api/tasks/',
          {
            title: `Task ${marker} number ${t}`,
            description: `Secret plans of ${marker}, item ${t}`,
            priority: ['low', 'medium', 'high', 'urgent'][t % 4],
            assigned_to: t % 2 === 0 ? (members[t % 4 === 0 ? 0 : 1] as Session).user.id : null,
            due_date: t % 3 === 0 ? '2026-01-15' : null,
          },
          { 'idempotency-key': key },
        );
        expect(created.statusCode).toBe(201);
        const id = json<{ id: number }>(created).id;
        company.idempotencyKeys.push(key);
        if (t % 4 === 1) {
          const changed = await call(admin, 'PATCH', `/api/tasks/${id}/`, { status: 'done' });
          expect(changed.statusCode).toBe(200);
        }
        if (t >= 12) {
          expect((await call(admin, 'DELETE', `/api/tasks/${id}/`)).statusCode).toBe(204);
          company.deletedTaskIds.push(id);
        } else {
          company.taskIds.push(id);
          company.etags.push(String((await call(admin, 'GET', `/api/tasks/${id}/`)).headers.etag));
        }
      }
      for (let n = 0; n < 2; n++) {
        const invited = await call(admin, 'POST', '/api/auth/invitations/', {
          email: `${marker}_invitee${n}@${marker}.example.com`,
        });
        expect(invited.statusCode).toBe(201);
        company.invitationIds.push(json<{ id: number }>(invited).id);
      }
      companies.push(company);
    }
  }, 120_000);
  afterAll(async () => {
    await ctx?.close();
  });

  /** Every row of every table with a company_id (and the companies), hashed per table as the database owner sees it. */
  async function databaseSnapshot(): Promise<Record<string, string>> {
    const client = ctx.db.client as unknown as {
      query(text: string): Promise<{ rows: Array<Record<string, unknown>> }>;
    };
    const { rows: tables } = await client.query(
      `select distinct table_name from information_schema.columns
        where table_schema = 'public' and (column_name = 'company_id' or table_name = 'companies') order by 1`,
    );
    const snapshot: Record<string, string> = {};
    for (const { table_name } of tables) {
      const { rows } = await client.query(
        `select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from public."${String(table_name)}" t`,
      );
      snapshot[String(table_name)] = `${String(rows[0]?.n)} rows, ${String(rows[0]?.h)}`;
    }
    return snapshot;
  }

  /** What each company's admin sees through the API: every task, its history, people, invitations, deletions. */
  async function apiSnapshot(): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const company of companies) {
      const admin = company.admin;
      const tasks = json<{ results: Array<{ id: number }> }>(await call(admin, 'GET', '/api/tasks/?page_size=100'));
      const histories = [];
      for (const id of [...company.taskIds, ...company.deletedTaskIds]) {
        histories.push(json(await call(admin, 'GET', `/api/tasks/${id}/history/?page_size=100`)));
        histories.push(json(await call(admin, 'GET', `/api/tasks/${id}/notifications/?page_size=100`)));
      }
      out.push({
        tasks,
        histories,
        users: json(await call(admin, 'GET', '/api/auth/company-users/?page_size=100')),
        invitations: json(await call(admin, 'GET', '/api/auth/invitations/?page_size=100')),
        deleted: json(await call(admin, 'GET', '/api/tasks/deleted/?since=2000-01-01')),
        statistics: json(await call(admin, 'GET', '/api/tasks/statistics/')),
        emails: json(await call(admin, 'GET', '/api/notifications/?page_size=100')),
      });
    }
    return out;
  }

  it('never shows one company another’s data, refuses every write across companies, and changes nothing', async () => {
    const rng = new Random(SEED);
    const beforeDb = await databaseSnapshot();
    const beforeApi = await apiSnapshot();
    expect(Object.keys(beforeDb)).toEqual(expect.arrayContaining(['tasks', 'users', 'task_history', 'invitations']));

    const foreignOf = (company: Company) => companies.filter((c) => c !== company);
    const taskBody = () =>
      rng.pick<Record<string, unknown>>([
        { title: 'Hijacked' },
        { status: 'done' },
        { priority: 'urgent', description: 'changed by a stranger' },
        { assigned_to: null },
        { due_date: '2030-01-01' },
        {},
      ]);

    /** A request by someone of `company` aimed at `other`'s things. */
    const crossOp = (actor: Session, company: Company, other: Company): Op => {
      const isAdmin = actor.user.role === 'admin';
      const adminOnly = isAdmin ? [404] : [403];
      const task = rng.pick(other.taskIds);
      const anyTask = rng.pick([...other.taskIds, ...other.deletedTaskIds]);
      const user = rng.pick(other.userIds);
      const ownTask = rng.pick(company.taskIds);
      const ifMatch: Record<string, string> = rng.chance(0.3) ? { 'if-match': rng.pick([...other.etags, '*']) } : {};
      const filters = () => {
        const params = new URLSearchParams();
        params.set(rng.pick(['assigned_to', 'created_by']), String(user));
        if (rng.chance(0.3)) params.set('search', rng.pick([other.marker, `Secret ${other.marker}`, 'Secret plans']));
        if (rng.chance(0.3)) params.set('status', rng.pick(['todo', 'done']));
        if (rng.chance(0.2)) params.set('ordering', '-priority');
        return params.toString();
      };
      const roll = rng.int(0, 25);
      switch (roll) {
        case 0:
          return { name: 'read their task', method: 'GET', url: `/api/tasks/${anyTask}/`, expect: [404] };
        case 1:
          return { name: 'read their history', method: 'GET', url: `/api/tasks/${anyTask}/history/`, expect: [404] };
        case 2:
          return {
            name: 'replace their task',
            method: 'PUT',
            url: `/api/tasks/${task}/`,
            payload: { title: 'Hijacked', ...taskBody() },
            headers: ifMatch,
            expect: [404],
          };
        case 3:
        case 4:
          return {
            name: 'change their task',
            method: 'PATCH',
            url: `/api/tasks/${task}/`,
            payload: rng.chance(0.3) ? { assigned_to: rng.pick(company.userIds.slice(0, 3)) } : taskBody(),
            headers: ifMatch,
            expect: [404],
          };
        case 5:
          return { name: 'delete their task', method: 'DELETE', url: `/api/tasks/${anyTask}/`, expect: [404] };
        case 6:
          return {
            name: 'create a task for their user',
            method: 'POST',
            url: '/api/tasks/',
            payload: { title: 'Assigned across', assigned_to: user },
            headers: rng.chance(0.5) ? { 'idempotency-key': rng.pick(other.idempotencyKeys) } : {},
            expect: [400],
          };
        case 7:
          return {
            name: 'assign our task to their user',
            method: rng.pick(['PATCH', 'PUT'] as const),
            url: `/api/tasks/${ownTask}/`,
            payload: { title: 'Still ours', assigned_to: user },
            expect: [400],
          };
        case 8:
        case 9:
          return {
            name: 'list by their user',
            method: 'GET',
            url: `/api/tasks/?${filters()}`,
            expect: [200],
            empty: true,
          };
        case 10:
          // my_tasks is the caller's own assignments whatever assigned_to says: it must hold only ours
          return {
            name: 'my tasks by their user',
            method: 'GET',
            url: `/api/tasks/my_tasks/?${filters()}`,
            expect: [200],
          };
        case 11:
          return {
            name: 'external list by their user',
            method: 'GET',
            url: `/api/tasks/external-tasks/?${filters()}`,
            expect: [200],
          };
        case 12:
          return { name: 'statistics', method: 'GET', url: '/api/tasks/statistics/', expect: [200] };
        case 13:
          return { name: 'deleted since', method: 'GET', url: '/api/tasks/deleted/?since=2000-01-01', expect: [200] };
        case 14:
          return {
            name: 'change their user’s role',
            method: 'PATCH',
            url: `/api/auth/company-users/${user}/`,
            payload: { role: rng.pick(['admin', 'member']) },
            expect: adminOnly,
          };
        case 15:
          return {
            name: 'remove their user',
            method: 'DELETE',
            url: `/api/auth/company-users/${user}/`,
            expect: adminOnly,
          };
        case 16:
          return {
            name: 'withdraw their invitation',
            method: 'DELETE',
            url: `/api/auth/invitations/${rng.pick(other.invitationIds)}/`,
            expect: adminOnly,
          };
        case 17:
          return { name: 'list people', method: 'GET', url: '/api/auth/company-users/?page_size=100', expect: [200] };
        case 18:
          return {
            name: 'list invitations',
            method: 'GET',
            url: '/api/auth/invitations/?page_size=100',
            expect: isAdmin ? [200] : [403],
          };
        case 19:
          return { name: 'read our task', method: 'GET', url: `/api/tasks/${ownTask}/`, expect: [200] };
        case 20:
          return { name: 'our history', method: 'GET', url: `/api/tasks/${ownTask}/history/`, expect: [200] };
        case 21:
          return {
            name: 'their task’s emails',
            method: 'GET',
            url: `/api/tasks/${anyTask}/notifications/`,
            expect: [404],
          };
        case 22:
          return {
            name: 'our emails about their task',
            method: 'GET',
            url: `/api/notifications/?task=${anyTask}`,
            expect: [200],
            empty: true,
          };
        case 23:
          return {
            name: 'our task’s emails',
            method: 'GET',
            url: `/api/tasks/${ownTask}/notifications/`,
            expect: [200],
          };
        case 24:
          return { name: 'our emails', method: 'GET', url: '/api/notifications/?page_size=100', expect: [200] };
        default:
          return { name: 'profile', method: 'GET', url: '/api/auth/profile/', expect: [200] };
      }
    };

    /** Why this body shows another company's data, or undefined when it shows only the caller's. */
    const leak = (company: Company, op: Op, response: LightMyRequestResponse): string | undefined => {
      const sent = `${op.url} ${JSON.stringify(op.payload ?? '')} ${JSON.stringify(op.headers ?? {})}`;
      for (const other of foreignOf(company)) {
        // A marker the request itself carried may come back in a link or a message; the fields below still count.
        if (response.body.includes(other.marker) && !sent.includes(other.marker)) return `contains ${other.marker}`;
      }
      if (!response.headers['content-type']?.toString().startsWith('application/json') || response.body === '')
        return undefined;
      const foreign = foreignOf(company);
      const foreignTasks = new Set(foreign.flatMap((c) => [...c.taskIds, ...c.deletedTaskIds]));
      const foreignUsers = new Set(foreign.flatMap((c) => c.userIds));
      const foreignInvitations = new Set(foreign.flatMap((c) => c.invitationIds));
      const problems: string[] = [];
      const visit = (value: Body, path: string) => {
        if (Array.isArray(value)) {
          value.forEach((item, i) => {
            visit(item, `${path}[${i}]`);
          });
          return;
        }
        if (value === null || typeof value !== 'object') return;
        const isTask = 'title' in value && 'created_at' in value;
        const isUser = 'username' in value;
        const isHistory = 'action' in value && 'changes' in value;
        const isInvitation = 'expires_at' in value && 'email' in value;
        const isNotification = 'recipient' in value && 'scheduled_for' in value;
        if (isNotification && foreignTasks.has(value.task as number))
          problems.push(`${path}.task ${String(value.task)}`);
        if (isTask && value.company !== company.id) problems.push(`${path}.company ${String(value.company)}`);
        if (isTask && foreignTasks.has(value.id as number)) problems.push(`${path}.id ${String(value.id)}`);
        if (isUser && foreignUsers.has(value.id as number)) problems.push(`${path}.id ${String(value.id)}`);
        if (isInvitation && foreignInvitations.has(value.id as number)) problems.push(`${path}.id ${String(value.id)}`);
        if (isHistory && foreignTasks.has(value.task as number)) problems.push(`${path}.task ${String(value.task)}`);
        for (const key of ['assigned_to', 'created_by', 'actor', 'user_id']) {
          // a history entry's change is [from, to]
          const ids = ([] as Body[]).concat(value[key] ?? []);
          if (ids.some((id) => foreignUsers.has(id as number)))
            problems.push(`${path}.${key} ${JSON.stringify(value[key])}`);
        }
        if ('deleted_at' in value && foreignTasks.has(value.id as number))
          problems.push(`${path}.id ${String(value.id)}`);
        const companyField = value.company;
        if (isUser && typeof companyField === 'object' && companyField !== null && !Array.isArray(companyField)) {
          if (companyField.id !== company.id) problems.push(`${path}.company.id ${String(companyField.id)}`);
        }
        for (const [key, child] of Object.entries(value)) visit(child, `${path}.${key}`);
      };
      visit(JSON.parse(response.body) as Body, '$');
      return problems.length > 0 ? problems.slice(0, 5).join(', ') : undefined;
    };

    // The detector itself: another company's task, person or word in an answer is caught.
    {
      const [mine, theirs] = companies as [Company, Company];
      const probe: Op = { name: 'probe', method: 'GET', url: '/', expect: [200] };
      const answer = (body: unknown) =>
        ({
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }) as unknown as LightMyRequestResponse;
      const task = json<Record<string, unknown>>(await call(theirs.admin, 'GET', `/api/tasks/${theirs.taskIds[0]}/`));
      expect(leak(mine, probe, answer({ results: [task] }))).toBeDefined();
      expect(
        leak(mine, probe, answer({ results: [{ ...task, title: 'x', description: 'x', company: mine.id }] })),
      ).toBeDefined();
      expect(leak(mine, probe, answer({ by_assignee: [{ user_id: theirs.admin.user.id }] }))).toBeDefined();
      expect(leak(mine, probe, answer({ detail: `no ${theirs.marker}` }))).toBeDefined();
      const own = json<Record<string, unknown>>(await call(mine.admin, 'GET', `/api/tasks/${mine.taskIds[0]}/`));
      expect(leak(mine, probe, answer({ results: [own] }))).toBeUndefined();
    }

    const failures = new Map<string, { count: number; example: string }>();
    const fail = (signature: string, example: string) => {
      const known = failures.get(signature);
      if (known !== undefined) known.count += 1;
      else failures.set(signature, { count: 1, example });
    };
    const counts = new Map<string, number>();
    const took = new Map<string, number>();
    const started = Date.now();
    let next = 0;

    // Drawn in order before any is sent, so that the seed alone decides them whatever the timing.
    const plan = Array.from({ length: REQUESTS }, (_, index) => {
      const company = rng.pick(companies);
      const actor = rng.pick(company.actors);
      return { index, company, actor, op: crossOp(actor, company, rng.pick(foreignOf(company))) };
    });
    const worker = async () => {
      for (;;) {
        const planned = plan[next++];
        if (planned === undefined) return;
        const { index, company, actor, op } = planned;
        const sent = performance.now();
        const response = await call(actor, op.method, op.url, op.payload, op.headers);
        took.set(op.name, (took.get(op.name) ?? 0) + performance.now() - sent);
        const label = `${op.name} → ${response.statusCode}`;
        counts.set(label, (counts.get(label) ?? 0) + 1);
        const describe = `#${index} (FUZZ_SEED=${SEED}) ${actor.user.username} (${actor.user.role}, company ${company.id}) ${op.method} ${op.url} ${JSON.stringify(op.headers ?? {})} ${JSON.stringify(op.payload ?? '')} → ${response.statusCode} ${response.body.slice(0, 300)}`;
        if (!op.expect.includes(response.statusCode)) {
          fail(`${op.name}: ${response.statusCode}, expected ${op.expect.join(' or ')}`, describe);
        }
        if (op.expect.includes(400) && response.statusCode === 400 && !('assigned_to' in json(response))) {
          fail(`${op.name}: 400 not about assigned_to`, describe);
        }
        const leaked = leak(company, op, response);
        if (leaked !== undefined) fail(`${op.name}: leak`, `${leaked}: ${describe}`);
        if (op.empty === true && response.statusCode === 200 && json<{ count: number }>(response).count !== 0) {
          fail(`${op.name}: not empty`, describe);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (Date.now() - started) / 1000;

    const afterDb = await databaseSnapshot();
    const afterApi = await apiSnapshot();
    console.log(
      [
        `isolation fuzz (${TEST_DB}, FUZZ_SEED=${SEED}): ${REQUESTS} requests, ${CONCURRENCY} at a time, in ${seconds.toFixed(1)} s; companies ${companies.map((c) => c.id).join(', ')}`,
        ...[...counts.entries()].sort().map(([label, n]) => `  ${label}: ${n}`),
        `  ms in flight per request: ${[...took.entries()]
          .map(([name, ms]) => {
            const n = [...counts.entries()].filter(([l]) => l.startsWith(`${name} →`)).reduce((a, [, c]) => a + c, 0);
            return `${name} ${(ms / n).toFixed(1)}`;
          })
          .join(', ')}`,
        `  tables compared: ${Object.keys(beforeDb).join(', ')}`,
        `  failures: ${[...failures.values()].reduce((n, f) => n + f.count, 0)}`,
        ...[...failures.entries()].map(([signature, f]) => `  ${f.count} × ${signature}\n    first: ${f.example}`),
      ].join('\n'),
    );
    expect([...failures.keys()]).toEqual([]);
    expect(afterDb).toEqual(beforeDb);
    expect(afterApi).toEqual(beforeApi);
  }, 180_000);
});
