import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
import { multipartFile } from '../multipart.ts';
import { Random, seedFrom } from '../random.ts';
import { TestSocket } from '../ws.ts';

/**
 * Company isolation under 10,000 random requests (ISOLATION_REQUESTS), from a fixed seed (FUZZ_SEED
 * reproduces a run): three companies with people, tasks, history, deleted tasks, invitations and
 * idempotency keys, each marked with a string of its own. Users of one company read, change and
 * delete the others' tasks, people and invitations by id, read the emails about the others' tasks,
 * filter their own lists by the others' user ids and tasks and search for the others' words, eight
 * requests at a time. No answer may carry another
 * company's data, every write across companies must be refused (404, or 400 for another company's
 * assignee, or 403 where only admins may act), and every table must be exactly as it was.
 *
 * Inside each company, a private project is the same kind of boundary: its company member outside
 * it (who was its member once, was assigned one of its tasks and emailed about it, then removed)
 * reads, changes, lists, searches, counts and follows it by id and by word, and must get none of
 * it: not its tasks, their history, emails or deletions, not the project, its statuses or members,
 * not its counts in statistics, and no WebSocket event of the writes made in it afterwards. Comments
 * and inbox items are of the same kind: another company's, or the private project's (the outsider
 * was mentioned there while a member), are read, written, watched and marked read by id in vain.
 *
 * Attachments too: a file on a task of each company and on a task of each private project, which
 * strangers and the outsider list, read, download (with the header, and with a link re-signed for
 * their own company), delete and upload beside, and whose stored bytes must stay as they were.
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
  /** Its private project: in its name and its tasks' titles, and nowhere else. */
  privateMarker: string;
  privateProjectId: number;
  privateTaskIds: number[];
  privateDeletedTaskIds: number[];
  /** Comments on its tasks, and on its private project's. */
  commentIds: Array<[task: number, comment: number]>;
  privateCommentIds: Array<[task: number, comment: number]>;
  /** Inbox items of its people; the outsider's about the private project's task. */
  inboxItemIds: number[];
  privateInboxItemIds: number[];
  /** A company member of it, outside the private project (once inside: emailed about its task). */
  outsider: Session;
  insider: Session;
  attachmentIds: number[];
  /** Its attachments' signed links. */
  downloadUrls: string[];
  privateAttachmentIds: number[];
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
  /** The field a 400 must be about (assigned_to unless said). */
  field?: string;
  /** The statistics' total this caller must get. */
  total?: number;
}

type Body = null | boolean | number | string | Body[] | { [key: string]: Body };

describe(`company isolation under random cross-company requests (${TEST_DB})`, () => {
  let ctx: TestContext;
  let app: FastifyInstance;
  const companies: Company[] = [];
  let dataDir: string;

  const { call } = requestsTo(() => app);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'isolation-fuzz-'));
    ctx = await createTestContext({
      dataDir,
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
        privateMarker: `pv${index}y${Math.random().toString(36).slice(2, 8)}`,
        privateProjectId: 0,
        privateTaskIds: [],
        privateDeletedTaskIds: [],
        commentIds: [],
        privateCommentIds: [],
        inboxItemIds: [],
        privateInboxItemIds: [],
        insider: members[0] as Session,
        outsider: members[1] as Session,
        attachmentIds: [],
        downloadUrls: [],
        privateAttachmentIds: [],
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
      // The private project: the insider in it; the outsider in it long enough to be assigned a task
      // (and emailed about it), then removed.
      const project = await call(admin, 'POST', '/api/projects/', {
        name: `Private ${company.privateMarker} ${marker}`,
        key: `PV${index}`,
        is_private: true,
      });
      expect(project.statusCode).toBe(201);
      company.privateProjectId = json<{ id: number }>(project).id;
      const membership = `/api/projects/${company.privateProjectId}/members`;
      for (const person of [company.insider, company.outsider]) {
        expect((await call(admin, 'PUT', `${membership}/${person.user.id}/`, { role: 'member' })).statusCode).toBe(200);
      }
      for (let t = 0; t < 4; t++) {
        const created = await call(company.insider, 'POST', '/api/tasks/', {
          title: `Hidden ${company.privateMarker} ${marker} ${t}`,
          description: `Private plans of ${company.privateMarker}`,
          project: company.privateProjectId,
          assigned_to: (t === 0 ? company.outsider : company.insider).user.id,
          due_date: '2026-01-15',
        });
        expect(created.statusCode).toBe(201);
        const id = json<{ id: number }>(created).id;
        if (t === 3) {
          expect((await call(company.insider, 'DELETE', `/api/tasks/${id}/`)).statusCode).toBe(204);
          company.privateDeletedTaskIds.push(id);
        } else company.privateTaskIds.push(id);
      }
      // Comments: on a task of the company, mentioning a colleague; on a private task, mentioning the
      // outsider while still a member (an inbox item they keep, about a task they will not see).
      const commentOn = async (task: number, body: string) => {
        const response = await call(company.insider, 'POST', `/api/tasks/${task}/comments/`, { body });
        expect(response.statusCode).toBe(201);
        return json<{ id: number }>(response).id;
      };
      const open = company.taskIds[0] as number;
      company.commentIds.push([open, await commentOn(open, `Remark ${marker} for @${admin.user.username}`)]);
      const secret = company.privateTaskIds[1] as number;
      company.privateCommentIds.push([
        secret,
        await commentOn(secret, `Remark ${company.privateMarker} for @${company.outsider.user.username}`),
      ]);
      const itemsOf = async (person: Session) =>
        json<{ results: Array<{ id: number; task: { id: number } }> }>(
          await call(person, 'GET', '/api/inbox/?page_size=100'),
        ).results;
      company.inboxItemIds.push(...(await itemsOf(admin)).map((i) => i.id));
      company.privateInboxItemIds.push(
        ...(await itemsOf(company.outsider)).filter((i) => i.task.id === secret).map((i) => i.id),
      );
      expect(company.privateInboxItemIds.length).toBeGreaterThan(0);
      const attach = async (taskId: number, text: string) => {
        const { payload, headers } = multipartFile(`${text}.txt`, Buffer.from(`Attached ${text}`));
        const response = await call(admin, 'POST', `/api/tasks/${taskId}/attachments/`, payload, headers);
        expect(response.statusCode).toBe(201);
        return json<{ id: number; download_url: string }>(response);
      };
      for (const taskId of company.taskIds.slice(0, 2)) {
        const attachment = await attach(taskId, `file-${marker}`);
        company.attachmentIds.push(attachment.id);
        company.downloadUrls.push(attachment.download_url);
      }
      company.privateAttachmentIds.push(
        (await attach(company.privateTaskIds[0] as number, `file-${company.privateMarker}`)).id,
      );
      expect((await call(admin, 'DELETE', `${membership}/${company.outsider.user.id}/`)).statusCode).toBe(204);
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
    await rm(dataDir, { recursive: true, force: true });
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
    snapshot['stored attachment bytes'] = (await ctx.services.attachments.storage.list('')).join(' ');
    return snapshot;
  }

  /** What each company's admin sees through the API: every task, its history, people, invitations, deletions. */
  async function apiSnapshot(): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const company of companies) {
      const admin = company.admin;
      const tasks = json<{ results: Array<{ id: number }> }>(await call(admin, 'GET', '/api/tasks/?page_size=100'));
      const histories = [];
      for (const id of [
        ...company.taskIds,
        ...company.deletedTaskIds,
        ...company.privateTaskIds,
        ...company.privateDeletedTaskIds,
      ]) {
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
      const [commentTask, commentId] = rng.pick(other.commentIds);
      const attachment = rng.pick(other.attachmentIds);
      const roll = rng.int(0, 37);
      switch (roll) {
        case 26:
          return { name: 'their comments', method: 'GET', url: `/api/tasks/${anyTask}/comments/`, expect: [404] };
        case 27:
          return {
            name: 'comment on their task',
            method: 'POST',
            url: `/api/tasks/${task}/comments/`,
            payload: { body: `Hello @${other.admin.user.username}` },
            expect: [404],
          };
        case 28:
          return {
            name: 'change or delete their comment',
            method: rng.pick(['PATCH', 'DELETE'] as const),
            url: `/api/tasks/${rng.pick([commentTask, ownTask])}/comments/${commentId}/`,
            payload: { body: 'Hijacked' },
            expect: [404],
          };
        case 29:
          return {
            name: 'read their inbox item',
            method: 'POST',
            url: `/api/inbox/${rng.pick(other.inboxItemIds)}/read/`,
            expect: [404],
          };
        case 30:
          return {
            name: 'watch their task',
            method: rng.pick(['POST', 'DELETE'] as const),
            url: `/api/tasks/${anyTask}/watch/`,
            expect: [404],
          };
        case 31:
          return {
            name: 'our inbox',
            method: 'GET',
            url: `/api/inbox/?page_size=100${rng.chance(0.5) ? '&unread=true' : ''}`,
            expect: [200],
          };
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
        case 25:
          return {
            name: 'their task’s attachments',
            method: 'GET',
            url: `/api/tasks/${task}/attachments/`,
            expect: [404],
          };
        case 32:
          return { name: 'their attachment', method: 'GET', url: `/api/attachments/${attachment}/`, expect: [404] };
        case 33:
          return {
            name: 'download their attachment',
            method: 'GET',
            url: `/api/attachments/${attachment}/download/`,
            expect: [404],
          };
        case 34:
          return {
            name: 'download theirs by a link re-signed for us',
            method: 'GET',
            url: rng.pick(other.downloadUrls).replace(/c=\d+/, `c=${company.id}`),
            expect: [404],
          };
        case 35:
          return {
            name: 'delete their attachment',
            method: 'DELETE',
            url: `/api/attachments/${attachment}/`,
            expect: [404],
          };
        case 36: {
          const { payload, headers } = multipartFile('intruder.txt', Buffer.from('intruder'));
          return {
            name: 'attach to their task',
            method: 'POST',
            url: `/api/tasks/${task}/attachments/`,
            payload,
            headers,
            expect: [404],
          };
        }
        default:
          return { name: 'profile', method: 'GET', url: '/api/auth/profile/', expect: [200] };
      }
    };

    /** A request by a company's member outside its private project, aimed at that project's things. */
    const privateOp = (company: Company): Op => {
      const task = rng.pick(company.privateTaskIds);
      const anyTask = rng.pick([...company.privateTaskIds, ...company.privateDeletedTaskIds]);
      const project = company.privateProjectId;
      const search = rng.pick([company.privateMarker, `Hidden ${company.privateMarker}`, 'Private plans']);
      const attachment = rng.pick(company.privateAttachmentIds);
      const [commentTask, commentId] = rng.pick(company.privateCommentIds);
      switch (rng.int(0, 30)) {
        case 22:
          return { name: 'private: comments', method: 'GET', url: `/api/tasks/${anyTask}/comments/`, expect: [404] };
        case 23:
          return {
            name: 'private: comment',
            method: 'POST',
            url: `/api/tasks/${task}/comments/`,
            payload: { body: 'Let me in' },
            expect: [404],
          };
        case 24:
          return {
            name: 'private: change or delete a comment',
            method: rng.pick(['PATCH', 'DELETE'] as const),
            url: `/api/tasks/${commentTask}/comments/${commentId}/`,
            payload: { body: 'Hijacked' },
            expect: [404],
          };
        case 25:
          return {
            name: 'private: read my old item',
            method: 'POST',
            url: `/api/inbox/${rng.pick(company.privateInboxItemIds)}/read/`,
            expect: [404],
          };
        case 26:
          return {
            name: 'private: watch',
            method: rng.pick(['POST', 'DELETE'] as const),
            url: `/api/tasks/${anyTask}/watch/`,
            expect: [404],
          };
        case 0:
          return { name: 'private: read a task', method: 'GET', url: `/api/tasks/${anyTask}/`, expect: [404] };
        case 1:
          return { name: 'private: history', method: 'GET', url: `/api/tasks/${anyTask}/history/`, expect: [404] };
        case 2:
          return {
            name: 'private: a task’s emails',
            method: 'GET',
            url: `/api/tasks/${anyTask}/notifications/`,
            expect: [404],
          };
        case 3:
          return {
            name: 'private: change a task',
            method: rng.pick(['PATCH', 'PUT'] as const),
            url: `/api/tasks/${task}/`,
            payload: { title: 'Hijacked', ...taskBody() },
            expect: [404],
          };
        case 4:
          return { name: 'private: delete a task', method: 'DELETE', url: `/api/tasks/${anyTask}/`, expect: [404] };
        case 5:
          return {
            name: 'private: create a task in it',
            method: 'POST',
            url: '/api/tasks/',
            payload: { title: 'Slipped in', project },
            expect: [400],
            field: 'project',
          };
        case 6:
          return {
            name: 'private: move our task into it',
            method: 'PATCH',
            url: `/api/tasks/${rng.pick(company.taskIds)}/`,
            payload: { project },
            expect: [400],
            field: 'project',
          };
        case 7:
          return {
            name: 'private: list it',
            method: 'GET',
            url: `/api/tasks/?project=${project}`,
            expect: [200],
            empty: true,
          };
        case 8:
          return {
            name: 'private: search its words',
            method: 'GET',
            url: `/api/tasks/?search=${encodeURIComponent(search)}`,
            expect: [200],
            empty: true,
          };
        case 9:
          return {
            name: 'private: by ref',
            method: 'GET',
            url: `/api/tasks/?ref=PV${company.index}-1`,
            expect: [200],
            empty: true,
          };
        case 10:
          return {
            name: 'private: its statistics',
            method: 'GET',
            url: `/api/tasks/statistics/?project=${project}`,
            expect: [404],
          };
        case 11:
          return {
            name: 'private: statistics',
            method: 'GET',
            url: '/api/tasks/statistics/',
            expect: [200],
            total: company.taskIds.length,
          };
        case 12:
          return {
            name: 'private: my tasks',
            method: 'GET',
            url: '/api/tasks/my_tasks/?page_size=100',
            expect: [200],
          };
        case 13:
          return {
            name: 'private: external tasks',
            method: 'GET',
            url: '/api/tasks/external-tasks/?page_size=100',
            expect: [200],
          };
        case 14:
          return {
            name: 'private: deleted since',
            method: 'GET',
            url: '/api/tasks/deleted/?since=2000-01-01',
            expect: [200],
          };
        case 15:
          return {
            name: 'private: our emails',
            method: 'GET',
            url: `/api/notifications/?page_size=100${rng.chance(0.5) ? `&task=${anyTask}` : ''}`,
            expect: [200],
          };
        case 16:
          return { name: 'private: the project', method: 'GET', url: `/api/projects/${project}/`, expect: [404] };
        case 17:
          return {
            name: 'private: its statuses',
            method: 'GET',
            url: `/api/projects/${project}/statuses/`,
            expect: [404],
          };
        case 18:
          return {
            name: 'private: its members',
            method: 'GET',
            url: `/api/projects/${project}/members/`,
            expect: [404],
          };
        case 19:
          return {
            name: 'private: join it',
            method: 'PUT',
            url: `/api/projects/${project}/members/${company.outsider.user.id}/`,
            payload: { role: 'manager' },
            expect: [404],
          };
        case 20:
          return {
            name: 'private: change it',
            method: 'PATCH',
            url: `/api/projects/${project}/`,
            payload: { is_private: false },
            expect: [404],
          };
        case 27:
          return {
            name: 'private: a task’s attachments',
            method: 'GET',
            url: `/api/tasks/${task}/attachments/`,
            expect: [404],
          };
        case 28:
          return {
            name: 'private: an attachment',
            method: 'GET',
            url: `/api/attachments/${attachment}/`,
            expect: [404],
          };
        case 29:
          return {
            name: 'private: download an attachment',
            method: 'GET',
            url: `/api/attachments/${attachment}/download/`,
            expect: [404],
          };
        case 30: {
          const { payload, headers } = multipartFile('intruder.txt', Buffer.from('intruder'));
          return {
            name: 'private: attach to a task, or delete its attachment',
            ...(rng.chance(0.5)
              ? { method: 'POST' as const, url: `/api/tasks/${task}/attachments/`, payload, headers }
              : { method: 'DELETE' as const, url: `/api/attachments/${attachment}/` }),
            expect: [404],
          };
        }
        default:
          return {
            name: 'private: list projects',
            method: 'GET',
            url: `/api/projects/?page_size=100${rng.chance(0.3) ? '&archived=true' : ''}`,
            expect: [200],
          };
      }
    };

    /** A comment (its task's id) or an inbox item (its task as an object) about one of these tasks. */
    const isAboutTask = (value: { [key: string]: Body }, tasks: Set<number>) => {
      const task = value.task;
      if ('body' in value && 'edited' in value) return tasks.has(task as number);
      if ('kind' in value && 'read_at' in value && typeof task === 'object' && task !== null && !Array.isArray(task))
        return tasks.has(task.id as number);
      return false;
    };

    /** Why this body shows what a company member outside its private project must not see. */
    const privateLeak = (company: Company, op: Op, response: LightMyRequestResponse): string | undefined => {
      if (response.body.includes(company.privateMarker) && !op.url.includes(company.privateMarker)) {
        return `contains ${company.privateMarker}`;
      }
      if (!response.headers['content-type']?.toString().startsWith('application/json') || response.body === '')
        return undefined;
      const hidden = new Set([...company.privateTaskIds, ...company.privateDeletedTaskIds]);
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
        const isProject = 'key' in value && 'is_private' in value;
        if (isTask && (hidden.has(value.id as number) || value.project === company.privateProjectId))
          problems.push(`${path}.id ${String(value.id)}`);
        if (isProject && value.id === company.privateProjectId) problems.push(`${path}.id ${String(value.id)}`);
        if ('deleted_at' in value && hidden.has(value.id as number)) problems.push(`${path}.id ${String(value.id)}`);
        if (isAboutTask(value, hidden)) problems.push(`${path}.task ${JSON.stringify(value.task)}`);
        if (
          'download_url' in value &&
          (hidden.has(value.task as number) || company.privateAttachmentIds.includes(value.id as number))
        )
          problems.push(`${path}.attachment ${String(value.id)}`);
        if ('recipient' in value && 'scheduled_for' in value && hidden.has(value.task as number))
          problems.push(`${path}.task ${String(value.task)}`);
        for (const [key, child] of Object.entries(value)) visit(child, `${path}.${key}`);
      };
      visit(JSON.parse(response.body) as Body, '$');
      return problems.length > 0 ? problems.slice(0, 5).join(', ') : undefined;
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
      const foreignAttachments = new Set(foreign.flatMap((c) => [...c.attachmentIds, ...c.privateAttachmentIds]));
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
        if (isAboutTask(value, foreignTasks)) problems.push(`${path}.task ${JSON.stringify(value.task)}`);
        if (
          'download_url' in value &&
          (foreignAttachments.has(value.id as number) || foreignTasks.has(value.task as number))
        )
          problems.push(`${path}.attachment ${String(value.id)}`);
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
      const attachment = json(await call(theirs.admin, 'GET', `/api/attachments/${theirs.attachmentIds[0]}/`));
      expect(leak(mine, probe, answer([{ ...(attachment as object), filename: 'x', task: 0 }]))).toBeDefined();
      const own = json<Record<string, unknown>>(await call(mine.admin, 'GET', `/api/tasks/${mine.taskIds[0]}/`));
      expect(leak(mine, probe, answer({ results: [own] }))).toBeUndefined();
      // And the private project's task, its email or its deletion, to the outsider.
      const hidden = json<Record<string, unknown>>(
        await call(mine.admin, 'GET', `/api/tasks/${mine.privateTaskIds[0]}/`),
      );
      expect(
        privateLeak(mine, probe, answer({ results: [{ ...hidden, title: 'x', description: 'x' }] })),
      ).toBeDefined();
      const emails = json<{ results: Array<{ task: number }> }>(
        await call(mine.admin, 'GET', `/api/tasks/${mine.privateTaskIds[0]}/notifications/`),
      ).results;
      expect(emails.map((e) => e.task)).toEqual([mine.privateTaskIds[0]]);
      expect(privateLeak(mine, probe, answer({ results: emails.map((e) => ({ ...e, subject: 'x' })) }))).toBeDefined();
      const gone = { id: mine.privateDeletedTaskIds[0], deleted_at: 'x' };
      expect(privateLeak(mine, probe, answer({ results: [gone] }))).toBeDefined();
      const file = json(await call(mine.admin, 'GET', `/api/attachments/${mine.privateAttachmentIds[0]}/`));
      expect(privateLeak(mine, probe, answer([{ ...(file as object), filename: 'x' }]))).toBeDefined();
      expect(privateLeak(mine, probe, answer({ results: [own] }))).toBeUndefined();
      // A comment or an inbox item about such a task, the private project's or another company's.
      const hiddenId = mine.privateTaskIds[1] as number;
      const item = (task: number) => ({
        id: 1,
        kind: 'mentioned',
        task: { id: task, ref: 'x', title: 'x' },
        read_at: null,
      });
      const remark = (task: number) => ({ id: 1, task, body: 'x', edited: false });
      expect(privateLeak(mine, probe, answer({ results: [item(hiddenId)] }))).toBeDefined();
      expect(privateLeak(mine, probe, answer({ results: [remark(hiddenId)] }))).toBeDefined();
      expect(leak(mine, probe, answer({ results: [item(theirs.taskIds[0] as number)] }))).toBeDefined();
      expect(leak(mine, probe, answer({ results: [remark(theirs.taskIds[0] as number)] }))).toBeDefined();
      expect(leak(mine, probe, answer({ results: [item(mine.taskIds[0] as number)] }))).toBeUndefined();
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
    // A quarter of them by a company's member outside its private project, at that project.
    const plan = Array.from({ length: REQUESTS }, (_, index) => {
      const company = rng.pick(companies);
      if (rng.chance(0.25)) return { index, company, actor: company.outsider, op: privateOp(company) };
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
        const field = op.field ?? 'assigned_to';
        if (op.expect.includes(400) && response.statusCode === 400 && !(field in json(response))) {
          fail(`${op.name}: 400 not about ${field}`, describe);
        }
        const leaked =
          leak(company, op, response) ?? (actor === company.outsider ? privateLeak(company, op, response) : undefined);
        if (leaked !== undefined) fail(`${op.name}: leak`, `${leaked}: ${describe}`);
        if (
          op.total !== undefined &&
          response.statusCode === 200 &&
          json<{ total: number }>(response).total !== op.total
        ) {
          fail(`${op.name}: total not ${op.total}`, describe);
        }
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

  it('sends a company member outside a private project no event of what is done in it', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/ws/tasks/`;
    for (const company of companies) {
      const outsider = await TestSocket.open(url, { token: company.outsider.access });
      const insider = await TestSocket.open(url, { token: company.insider.access });
      for (const socket of [outsider, insider]) await socket.ofType('connection_established');
      const { admin, privateProjectId: project, privateMarker } = company;
      const created = await call(admin, 'POST', '/api/tasks/', { title: `Live ${privateMarker}`, project });
      expect(created.statusCode).toBe(201);
      const id = json<{ id: number }>(created).id;
      expect((await call(admin, 'PATCH', `/api/tasks/${id}/`, { status: 'done' })).statusCode).toBe(200);
      const status = await call(admin, 'POST', `/api/projects/${project}/statuses/`, {
        name: `Review ${privateMarker}`,
        category: 'in_progress',
      });
      expect(status.statusCode).toBe(201);
      const statusId = json<{ id: number }>(status).id;
      await call(admin, 'PATCH', `/api/tasks/${id}/`, { state: statusId });
      // A category change moving the task, then the status deleted moving it again.
      await call(admin, 'PATCH', `/api/projects/${project}/statuses/${statusId}/`, { category: 'done' });
      const todo = json<Array<{ id: number }>>(await call(admin, 'GET', `/api/projects/${project}/statuses/`))[0]?.id;
      expect(
        (await call(admin, 'DELETE', `/api/projects/${project}/statuses/${statusId}/?move_to=${todo}`)).statusCode,
      ).toBe(204);
      await call(admin, 'PATCH', `/api/projects/${project}/`, { description: `About ${privateMarker}` });
      const said = await call(admin, 'POST', `/api/tasks/${id}/comments/`, {
        body: `Said ${privateMarker} to @${company.outsider.user.username} and @${company.insider.user.username}`,
      });
      expect(said.statusCode).toBe(201);
      expect(json<{ mentions: number[] }>(said).mentions).toEqual([company.insider.user.id]);
      expect((await call(admin, 'DELETE', `/api/tasks/${id}/`)).statusCode).toBe(204);
      // The last event of all, to everyone in the company: after it, nothing else can arrive.
      const label = json<{ id: number }>(await call(admin, 'POST', '/api/labels/', { name: `done ${company.marker}` }));
      const marker = (m: Record<string, unknown>) =>
        m.type === 'label_updated' && (m.label as { id: number }).id === label.id;
      await outsider.next(marker);
      await insider.next(marker);
      const heard = (socket: TestSocket) => socket.messages.map((m) => m.type).join(' ');
      expect(heard(insider)).toContain('task_created');
      expect(heard(insider)).toContain('status_deleted');
      expect(heard(insider)).toContain('comment_created');
      expect(heard(insider)).toContain('inbox_item');
      expect(insider.messages.filter((m) => m.type === 'task_updated').length).toBeGreaterThanOrEqual(4);
      expect(heard(outsider)).toBe('connection_established label_updated');
      expect(JSON.stringify(outsider.messages)).not.toContain(privateMarker);
      outsider.close();
      insider.close();
    }
  });
});
