import { createHash } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import pino, { type Logger } from 'pino';
import type { UserRow } from '../accounts/queries.ts';
import { isActiveMember } from '../accounts/queries.ts';
import { checkActor, requireActor } from '../accounts/service.ts';
import { existingLabelIds } from '../labels/queries.ts';
import type { Auth } from '../platform/auth.ts';
import { type Database, type Tx, tenantQuery, tenantStatements } from '../platform/db/index.ts';
import { type TaskStatus, taskHistory } from '../platform/db/schema.ts';
import { type FieldErrors, HttpError, invalid, notFound } from '../platform/errors.ts';
import { KeyedMutex } from '../platform/keyed-mutex.ts';
import type { PageRequest } from '../platform/pagination.ts';
import { projectSeenSql } from '../projects/access.ts';
import type { StateMoves } from '../projects/hooks.ts';
import {
  findStatus,
  type ProjectAccess,
  requireAccess,
  requireDefaultProject,
  requireProject,
} from '../projects/service.ts';
import type { ExternalFeed } from './external.ts';
import type { BlockFlip, TaskWrite, TaskWriteListener } from './hooks.ts';
import { checkLinks, parentsRecounted, refuseIfAnyBlocked, refuseIfBlocked, waitersFlipped } from './link-rules.ts';
import * as links from './links.ts';
import { fromTextRow, sharedTask, type TaskRow, type TaskTextRow, toTask } from './mapping.ts';
import * as reads from './reads.ts';
import {
  type DeletedTask,
  type ExternalTasksAnswer,
  type HistoryEntry,
  INVALID_INSTANT,
  type OrderKey,
  type Statistics,
  type Task,
  type TaskBody,
  type TaskListQuery,
  type TaskPatch,
} from './schemas.ts';
import * as writes from './writes.ts';

/**
 * A hash of the task as its writes change it: any change of it changes the tag. What is not the
 * task's own is left out: whether the reader watches it (theirs alone, so that everyone gets the
 * same tag), and its comment and attachment counts (a comment or file added meanwhile is no
 * conflict with an edit).
 */
export const etagOf = ({ is_watching: _reader, comment_count: _comments, attachment_count: _files, ...task }: Task) =>
  `"${createHash('sha256').update(JSON.stringify(task)).digest('base64url').slice(0, 27)}"`;

/** If-Match per RFC 9110: `*` or a list of tags; weak tags compare by their opaque part. */
function ifMatchAccepts(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

const preconditionFailed = () =>
  new HttpError(412, { detail: 'The task has changed since it was read; fetch it again and retry.' });

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A date (midnight UTC) or date-time (UTC when it names no offset), or undefined when the
 * calendar has no such moment: Date would silently roll 31 April over into May.
 */
export function parseInstant(value: string): Date | undefined {
  const normalised = value.replace(' ', 'T');
  const withZone =
    DATE_ONLY.test(normalised) || /(Z|[+-]\d{2}:?\d{2})$/.test(normalised) ? normalised : `${normalised}Z`;
  const date = new Date(withZone.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (Number.isNaN(date.getTime())) return undefined;
  const [year, month, day] = normalised.slice(0, 10).split('-').map(Number);
  const local = new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 0));
  const sameDay = local.getUTCFullYear() === year && local.getUTCMonth() + 1 === month && local.getUTCDate() === day;
  return sameDay ? date : undefined;
}

/** Already checked against the schema's pattern; a key named twice counts once. */
function parseOrdering(value: string): reads.OrderTerm[] {
  const terms: reads.OrderTerm[] = [];
  for (const part of value.split(',')) {
    const descending = part.startsWith('-');
    const key = (descending ? part.slice(1) : part) as OrderKey;
    if (!terms.some((t) => t.key === key)) terms.push({ key, descending });
  }
  return terms;
}

/** A project named in a body that the caller does not see is a 400 on that field, not a 404. */
async function asField(field: string, access: Promise<ProjectAccess>): Promise<ProjectAccess> {
  try {
    return await access;
  } catch (error) {
    if (error instanceof HttpError && error.statusCode === 404) throw invalid({ [field]: ['No such project.'] });
    throw error;
  }
}

const REF = /^[A-Z][A-Z0-9]{1,9}-[1-9][0-9]{0,8}$/;

interface ListRequest {
  filter: reads.TaskFilter;
  ordering: reads.OrderTerm[] | undefined;
}

/** The list's query string in the database's terms; every bad value reported at once, as DRF does. */
function listRequest(query: TaskListQuery): ListRequest {
  const errors: FieldErrors = {};
  const instant = (field: 'due_before' | 'due_after' | 'updated_after') => {
    const raw = query[field];
    if (raw === undefined) return undefined;
    const parsed = parseInstant(raw);
    if (parsed === undefined) errors[field] = [INVALID_INSTANT];
    return parsed;
  };
  const filter: reads.TaskFilter = {
    status: query.status,
    priority: query.priority,
    assignedTo: query.assigned_to,
    createdBy: query.created_by,
    dueUntil: instant('due_before'),
    dueFrom: instant('due_after'),
    updatedFrom: instant('updated_after'),
    search: query.search?.trim() || undefined,
    projectId: query.project,
    stateId: query.state,
    labels: query.labels?.split(',').map(Number),
    ref: query.ref?.toUpperCase(),
    parentId: query.parent === undefined ? undefined : query.parent === 'none' ? 0 : Number(query.parent),
    isBlocked: query.is_blocked,
  };
  if (filter.ref !== undefined && !REF.test(filter.ref)) errors.ref = ['Enter a task ref like WEB-42.'];
  if (Object.keys(errors).length > 0) throw invalid(errors);
  return { filter, ordering: query.ordering === undefined ? undefined : parseOrdering(query.ordering) };
}

const TRACKED_FIELDS = [
  'title',
  'description',
  'status',
  'priority',
  'due_date',
  'assigned_to',
  'completed_at',
  'project',
  'ref',
  'state',
  'labels',
  'parent',
  'blocked_by',
] as const satisfies readonly (keyof Task)[];

/** {field: [old, new]} for each tracked field that differs (labels by their ids); a missing side is null. */
function changesBetween(before: Partial<Task> | null, after: Partial<Task> | null): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {};
  for (const field of TRACKED_FIELDS) {
    const old = before?.[field] ?? null;
    const now = after?.[field] ?? null;
    // The same value or array: a task told again only for is_blocked (5,000 for a hub done) is all that.
    if (old !== now && JSON.stringify(old) !== JSON.stringify(now)) changes[field] = [old, now];
  }
  return changes;
}

/** completed_at follows the status: set when it becomes done, cleared when it leaves done. */
function completedAtFor(status: TaskRow['status'] | undefined, previous: TaskRow['status'] | null) {
  if (status === undefined) return {};
  if (status !== 'done') return { completedAt: null };
  return previous === 'done' ? {} : { completedAt: sql`now()` as SQL };
}

/**
 * Who reads what is recorded about a task (its history, the emails about it): anyone who sees the
 * task's project while the task lives; once it is deleted, the company's admins only. A 404
 * otherwise, as for a task of another company. Says whether the task lives.
 */
export async function requireTaskRecords(tx: Tx, auth: Auth, id: number): Promise<{ live: boolean }> {
  const actor = await requireActor(tx, auth);
  const task = await reads.findTask(tx, auth.companyId, id);
  if (task !== undefined) {
    await requireProject(tx, auth, task.project_id, 'read', { actor });
    return { live: true };
  }
  if (actor.role !== 'admin') throw notFound();
  return { live: false };
}

/**
 * A task the caller sees, with their access to its project checked for `action` (404 unseen, 403
 * not allowed, 409 archived for writes): for the features that act on a task (comments, watching).
 */
export async function requireTask(
  tx: Tx,
  auth: Auth,
  id: number,
  action: 'read' | 'write' | 'manage',
  options: { actor?: UserRow } = {},
): Promise<{ task: Task; access: ProjectAccess }> {
  const actor = options.actor ?? (await requireActor(tx, auth));
  const row = await reads.findTask(tx, auth.companyId, id);
  if (row === undefined) throw notFound();
  return { task: toTask(row), access: await requireProject(tx, auth, row.project_id, action, { actor }) };
}

/** A project's creates that one process sends to PostgreSQL at once (each holds a pooled connection). */
const CREATES_IN_FLIGHT = 3;

export interface CreateResult {
  task: Task;
  /** True when the answer is the stored one of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

/**
 * A creation that concerns its creator alone, which one statement can make (writes.ts'
 * soleCreationText): no Idempotency-Key, assigned to nobody or to the caller, with no labels,
 * links, parent or state named. Undefined for any other, and for a due date the calendar lacks
 * (the general path answers the 400).
 */
function soleCreation(auth: Auth, body: TaskBody, idempotencyKey: string | undefined): writes.SoleCreation | undefined {
  if (idempotencyKey !== undefined || body.state !== undefined || body.parent != null) return undefined;
  if (body.labels?.length || body.blocked_by?.length) return undefined;
  if (body.assigned_to != null && body.assigned_to !== auth.userId) return undefined;
  const dueDate = body.due_date == null ? null : parseInstant(body.due_date);
  if (dueDate === undefined) return undefined;
  const values = {
    title: body.title,
    description: body.description ?? '',
    status: body.status ?? 'todo',
    priority: body.priority ?? 'medium',
    due_date: dueDate?.toISOString() ?? null,
    assigned_to: body.assigned_to ?? null,
    labels: [],
    blocked_by: [],
  };
  return {
    companyId: auth.companyId,
    userId: auth.userId,
    projectId: body.project,
    title: values.title,
    description: values.description,
    status: values.status,
    priority: values.priority,
    dueDate,
    assignedTo: values.assigned_to,
    // What the body decides of the entry; the statement adds what the database does.
    changes: changesBetween(null, values),
  };
}

export class TasksService implements StateMoves {
  /**
   * The creating statement with the listeners' parts (TaskWriteListener.soleCreationSql), or
   * undefined when a listener has a part in the transaction that it cannot give as SQL.
   */
  private readonly soleCreationText: string | undefined;

  /** The listeners' after-commit work, one company's at a time, in the order the commits were heard. */
  private readonly announcing = new KeyedMutex<number>(1);
  /** That work begun and not yet done (announced()). */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly db: Database,
    private readonly feed: ExternalFeed,
    private readonly listeners: readonly TaskWriteListener[] = [],
    private readonly log: Pick<Logger, 'error'> = pino(),
    /**
     * Writes whose after-commit work may wait in this process before a write's answer waits for
     * its own: writes faster than their events can go slow down rather than queue without end.
     */
    private readonly pendingLimit = 1_000,
  ) {
    const parts = listeners.map((listener) =>
      listener.soleCreationSql === undefined
        ? listener.inTransaction === undefined
          ? null
          : undefined
        : listener.soleCreationSql('created'),
    );
    this.soleCreationText = parts.includes(undefined)
      ? undefined
      : writes.soleCreationText(parts.filter((part) => typeof part === 'string'));
  }

  /** The writes' history entries, then each listener's part in the same transaction. */
  private async written(
    tx: Tx,
    companyId: number,
    actorId: number,
    done: readonly TaskWrite[],
    flips: readonly BlockFlip[] = [],
  ): Promise<void> {
    await writes.insertHistory(
      tx,
      companyId,
      actorId,
      done.flatMap((write) => {
        const task = (write.after ?? write.before) as Task;
        const changes = changesBetween(write.before, write.after);
        // A task told again only because its subtasks changed has no history entry.
        if (write.kind === 'updated' && Object.keys(changes).length === 0) return [];
        return [{ taskId: task.id, projectId: task.project, action: write.kind, changes }];
      }),
    );
    for (const listener of this.listeners) await listener.inTransaction?.(tx, done, flips);
  }

  /**
   * Each listener's part once the writes have committed. The task routes answer without awaiting
   * it, and it starts once the answer has gone (setImmediate: after the I/O callback that heard
   * the COMMIT and sent the answer): the answer does not wait for the thousands of events of a hub
   * task done. A company's runs one at a time in commit order (setImmediate keeps the order it is
   * given), so that no task's events overtake its earlier ones. A failure is logged, never thrown:
   * the writes stand, and sockets are a live view that clients catch up on by `updated_after`.
   */
  private committed(done: TaskWrite[], flips: readonly BlockFlip[] = []): Promise<void> {
    const first = done[0];
    if (first === undefined) return Promise.resolve();
    const run = new Promise((resolve) => setImmediate(resolve))
      .then(() =>
        this.announcing.run(first.companyId, async () => {
          // The same list the listeners had in the transaction (the inbox keys its items by it).
          if (flips.length > 0) done.push(...(await this.flipsRead(flips)));
          for (const listener of this.listeners) await listener.afterCommit?.(done);
        }),
      )
      .catch((error: unknown) => this.log.error({ err: error }, 'after-commit work on task writes failed'));
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
    return run;
  }

  /** Flipped tasks as updates, read whole now that their transaction has committed. */
  private async flipsRead(flips: readonly BlockFlip[]): Promise<TaskWrite[]> {
    const { companyId } = flips[0] as BlockFlip;
    const flipOf = new Map(flips.map((flip) => [flip.task.id, flip]));
    const read = await this.db.tenant(companyId, (tx) =>
      links.readShared(tx, companyId, () => links.rowsByIds(tx, companyId, [...flipOf.keys()])),
    );
    return read.map(({ task }): TaskWrite => {
      const flip = flipOf.get(task.id) as BlockFlip;
      return {
        kind: 'updated',
        companyId,
        actorId: flip.actorId,
        before: { ...task, is_blocked: !flip.isBlocked },
        after: task,
      };
    });
  }

  /** Starts the after-commit work; waits for it only while more than pendingLimit writes' is waiting. */
  private async announce(done: TaskWrite[], flips: readonly BlockFlip[] = []): Promise<void> {
    const run = this.committed(done, flips);
    if (this.pending.size > this.pendingLimit) await run;
  }

  /** Once the after-commit work begun so far is done: before the bus closes, and for tests. */
  async announced(): Promise<void> {
    await Promise.all(this.pending);
  }

  /**
   * In a workflow status change's transaction (projects' StateMoves): the tasks in state `from`
   * go to `to` and its category, each recorded in its history and heard by the listeners as an
   * update by `actorId`, in a fixed number of statements. What to run after the commit comes back.
   */
  async moveTasks(
    tx: Tx,
    companyId: number,
    actorId: number,
    from: number,
    to: { id: number; category: TaskStatus },
  ): Promise<() => Promise<void>> {
    const { before, after } = await writes.moveTasksOfState(tx, companyId, from, to);
    // The counts the update read, after the rows' locks were granted: those of the locking read may
    // miss a blocker reopened while it waited (drizzle/0024).
    refuseIfAnyBlocked(
      before.map((row, i) => ({ ...row, open_blockers: after[i]?.open_blockers ?? row.open_blockers })),
      to.category,
    );
    const shared = await links.sharedTasks(tx, companyId, [...before, ...after]);
    const done = after.map(
      (_row, i): TaskWrite => ({
        kind: 'updated',
        companyId,
        actorId,
        before: shared[i] as Task,
        after: shared[before.length + i] as Task,
      }),
    );
    // Moved tasks that wait for others, or are parents of others, among them are told again below
    // too: the triggers change their counters after the update that returned them.
    // One category for all: the tasks that became done or stopped being done are the same way.
    const flipped = before.filter((row) => (row.status === 'done') !== (to.category === 'done')).map((row) => row.id);
    const flips =
      flipped.length > 0 ? await waitersFlipped(tx, companyId, actorId, flipped, to.category === 'done') : [];
    done.push(
      ...(await parentsRecounted(
        tx,
        companyId,
        actorId,
        before.map((row, i) => ({ before: row, after: after[i] ?? null })),
      )),
    );
    if (done.length > 0) await this.written(tx, companyId, actorId, done, flips);
    // The status change's own event follows its tasks' (projects/statuses.ts awaits this).
    return () => this.committed(done, flips);
  }

  /**
   * The client's fields in the table's terms, checked: dates exist, the assignee is an active
   * colleague, the project is one the caller writes in (the task's own, or the one it moves to;
   * on creation the default one), the state is of that project and agrees with the status, the
   * labels are the company's.
   */
  private async values(
    tx: Tx,
    auth: Auth,
    actor: UserRow,
    body: TaskPatch,
    current?: { row: TaskRow; access: ProjectAccess },
  ): Promise<{ values: Partial<writes.TaskValues>; labels?: number[]; blockedBy?: number[]; projectId: number }> {
    let dueDate: Date | null | undefined;
    if (body.due_date !== undefined) {
      dueDate = body.due_date === null ? null : parseInstant(body.due_date);
      if (dueDate === undefined) throw invalid({ due_date: [INVALID_INSTANT] });
    }
    const assignee = body.assigned_to;
    if (assignee !== undefined && assignee !== null && !(await isActiveMember(tx, auth.companyId, assignee))) {
      throw invalid({ assigned_to: [`Invalid pk "${assignee}" - object does not exist.`] });
    }
    const projectId = await this.targetProject(tx, auth, actor, body.project, current);
    let status = body.status;
    if (body.state !== undefined) {
      const state = await findStatus(tx, auth.companyId, body.state);
      if (state === undefined || state.projectId !== projectId) {
        throw invalid({ state: ['Choose a status of the task’s project.'] });
      }
      if (status !== undefined && status !== state.category) {
        throw invalid({ state: [`This status is of the category ${state.category}, not ${status}.`] });
      }
      status = state.category;
    }
    if (body.labels !== undefined) {
      const known = await existingLabelIds(tx, auth.companyId, body.labels);
      const unknown = body.labels.filter((id) => !known.has(id));
      if (unknown.length > 0) throw invalid({ labels: [`Invalid pk "${unknown[0]}" - object does not exist.`] });
    }
    const named = [...(body.blocked_by ?? []), ...(body.parent == null ? [] : [body.parent])];
    const seen = await links.seenTasks(tx, auth.companyId, named);
    const unseen = (body.blocked_by ?? []).find((taskId) => !seen.has(taskId));
    if (unseen !== undefined) throw invalid({ blocked_by: [`Invalid pk "${unseen}" - object does not exist.`] });
    if (body.parent != null && !seen.has(body.parent)) {
      throw invalid({ parent: [`Invalid pk "${body.parent}" - object does not exist.`] });
    }
    const values: Partial<writes.TaskValues> = {
      title: body.title,
      description: body.description,
      status,
      priority: body.priority,
      dueDate,
      assignedTo: assignee,
      projectId: projectId === current?.row.project_id ? undefined : projectId,
      stateId: body.state,
      parentId: body.parent === undefined || body.parent === current?.row.parent ? undefined : body.parent,
    };
    return {
      values: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)),
      projectId,
      labels: body.labels === undefined ? undefined : [...body.labels].sort((a, b) => a - b),
      blockedBy: body.blocked_by === undefined ? undefined : [...body.blocked_by].sort((a, b) => a - b),
    };
  }

  /**
   * The project a write puts the task in, once the caller may write there: a project named in the
   * body they do not see is a 400 on project (as an unknown assignee is), one they see but may not
   * write in a 403, an archived one a 409.
   */
  private async targetProject(
    tx: Tx,
    auth: Auth,
    actor: UserRow,
    named: number | undefined,
    current: { row: TaskRow; access: ProjectAccess } | undefined,
  ): Promise<number> {
    if (current !== undefined) requireAccess(current.access, 'write');
    if (named === undefined || named === current?.row.project_id) {
      if (current !== undefined) return current.row.project_id;
      const { project } = await asField('project', requireDefaultProject(tx, auth, 'write', { actor }));
      return project.id;
    }
    await asField('project', requireProject(tx, auth, named, 'write', { actor }));
    return named;
  }

  /** One statement in its own tenant transaction (tenantQuery), for the single-statement reads. */
  private statement(auth: Auth): reads.Run {
    return (text, values, options) => tenantQuery(this.db, auth, text, values, options);
  }

  private async list(auth: Auth, query: TaskListQuery, page: PageRequest, only: Partial<reads.TaskFilter> = {}) {
    const { filter, ordering } = listRequest(query);
    const scoped = { ...filter, ...only };
    const run = this.statement(auth);
    const { active, total, rows } = await reads.listPage(
      run,
      auth.companyId,
      auth.userId,
      scoped,
      ordering,
      page.size,
      page.offset,
    );
    checkActor(active);
    return { count: total, tasks: rows.map(toTask) };
  }

  listTasks(auth: Auth, query: TaskListQuery, page: PageRequest) {
    return this.list(auth, query, page);
  }

  myTasks(auth: Auth, query: TaskListQuery, page: PageRequest) {
    return this.list(auth, query, page, { assignedTo: auth.userId });
  }

  async get(auth: Auth, id: number): Promise<Task> {
    const { active, row } = await reads.findCheckedTask(this.statement(auth), auth.companyId, auth.userId, id);
    checkActor(active);
    if (row === undefined) throw notFound();
    return toTask(row);
  }

  /**
   * With an Idempotency-Key, the key is claimed in the task's own transaction: a retry after a
   * commit finds the stored answer, a concurrent duplicate waits for the first and then finds it,
   * and a failed first attempt leaves no trace, so the retry runs afresh.
   */
  /**
   * A few creates at a time per project and process (KeyedMutex), before the database makes them
   * wait for its number: the next ones wait in PostgreSQL, ready when the lock passes.
   */
  private readonly numbering = new KeyedMutex<string>(CREATES_IN_FLIGHT);

  async create(auth: Auth, body: TaskBody, idempotencyKey?: string): Promise<CreateResult> {
    const project = `${auth.companyId}/${body.project ?? 'default'}`;
    const result = await this.numbering.run(
      project,
      async () =>
        (await this.createSole(auth, body, idempotencyKey)) ?? this.createInTransaction(auth, body, idempotencyKey),
    );
    // A replay changed nothing.
    if (result.done !== undefined) await this.announce(result.done);
    return { task: result.task, replayed: result.replayed };
  }

  /**
   * A sole creation in one round trip: its statements, BEGIN and COMMIT written at once. Undefined
   * when it is none, or when it created nothing because the caller may not create it: the general
   * path, which checks step by step, then gives the error.
   */
  private async createSole(
    auth: Auth,
    body: TaskBody,
    idempotencyKey: string | undefined,
  ): Promise<(CreateResult & { done: TaskWrite[] }) | undefined> {
    const creation = soleCreation(auth, body, idempotencyKey);
    if (creation === undefined || this.soleCreationText === undefined) return undefined;
    const [created, watching] = await tenantStatements(
      this.db,
      auth,
      writes.soleCreationStatements(this.soleCreationText, creation),
    );
    const text = created?.[0] as TaskTextRow | undefined;
    if (text === undefined) return undefined;
    const row = fromTextRow(text);
    const task = {
      ...toTask(row),
      is_watching: (watching?.[0] as { watching: boolean } | undefined)?.watching === true,
    };
    const write: TaskWrite = {
      kind: 'created',
      companyId: auth.companyId,
      actorId: auth.userId,
      before: null,
      // No links: nothing of it to leave out.
      after: sharedTask(row, new Map()),
    };
    return { task, replayed: false, done: [write] };
  }

  private createInTransaction(auth: Auth, body: TaskBody, idempotencyKey: string | undefined) {
    return this.db.tenant(auth, async (tx): Promise<CreateResult & { done?: TaskWrite[] }> => {
      const actor = await requireActor(tx, auth);
      if (
        idempotencyKey !== undefined &&
        !(await writes.claimIdempotencyKey(tx, auth.companyId, actor.id, idempotencyKey))
      ) {
        const answer = await writes.findIdempotentAnswer(tx, auth.companyId, actor.id, idempotencyKey);
        if (answer === undefined) throw new Error('idempotency key claimed without an answer');
        return { task: answer.body as Task, replayed: true };
      }
      const { values, labels, blockedBy, projectId } = await this.values(tx, auth, actor, body);
      await checkLinks(tx, auth.companyId, undefined, values.parentId, []);
      let row = await writes.insertTask(tx, {
        title: body.title,
        description: '',
        status: 'todo',
        priority: 'medium',
        dueDate: null,
        assignedTo: null,
        ...values,
        projectId,
        companyId: auth.companyId,
        createdBy: actor.id,
        completedAt: values.status === 'done' ? sql`now()` : null,
      });
      if (labels !== undefined && labels.length > 0) await writes.setTaskLabels(tx, auth.companyId, row.id, labels);
      // Nothing waits for a new task: its blockers cannot close a cycle.
      if (blockedBy !== undefined && blockedBy.length > 0) {
        await links.setBlockedBy(tx, auth.companyId, row.id, blockedBy);
      }
      if (labels?.length || blockedBy?.length) row = await writes.reloadTask(tx, auth.companyId, row.id);
      await refuseIfBlocked(tx, auth.companyId, row, null);
      const write: TaskWrite = {
        kind: 'created',
        companyId: auth.companyId,
        actorId: actor.id,
        before: null,
        after: (await links.sharedTasks(tx, auth.companyId, [row]))[0] as Task,
      };
      const parents = await parentsRecounted(tx, auth.companyId, actor.id, [{ before: null, after: row }]);
      await this.written(tx, auth.companyId, actor.id, [write, ...parents]);
      // Read again after the listeners: the creator now watches it (the inbox's), as their next read says.
      const task = { ...toTask(row), is_watching: await reads.isWatching(tx, auth.companyId, row.id) };
      if (idempotencyKey !== undefined) {
        await writes.saveIdempotentAnswer(tx, auth.companyId, actor.id, idempotencyKey, {
          statusCode: 201,
          body: task,
        });
      }
      return { task, replayed: false, done: [write, ...parents] };
    });
  }

  /** PUT and PATCH alike: only the fields given change (DRF's PUT keeps omitted optional fields too). */
  async update(auth: Auth, id: number, body: TaskPatch, ifMatch?: string): Promise<Task> {
    const { after, done, flips } = await this.db.tenant(auth, async (tx) => {
      // One round trip: the row's lock does not wait for the caller's check.
      const [actor, current] = await Promise.all([
        requireActor(tx, auth),
        reads.findTask(tx, auth.companyId, id, { forUpdate: true }),
      ]);
      if (current === undefined) throw notFound();
      const access = await requireProject(tx, auth, current.project_id, 'read', { actor });
      const before = toTask(current);
      if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, etagOf(before))) throw preconditionFailed();
      const { values, labels, blockedBy } = await this.values(tx, auth, actor, body, { row: current, access });
      const blockersChanged = blockedBy !== undefined && blockedBy.join() !== current.blocked_by.join();
      const added = blockersChanged ? blockedBy.filter((b) => !current.blocked_by.includes(b)) : [];
      await checkLinks(tx, auth.companyId, id, values.parentId, added);
      // Before the row's update, so that it returns the open_blockers the triggers kept.
      if (blockersChanged) await links.setBlockedBy(tx, auth.companyId, id, blockedBy);
      let row = await writes.updateTask(tx, auth.companyId, id, {
        ...values,
        ...completedAtFor(values.status, current.status),
      });
      if (labels !== undefined && labels.join() !== current.labels.join()) {
        await writes.setTaskLabels(tx, auth.companyId, id, labels);
        row = await writes.reloadTask(tx, auth.companyId, id);
      }
      await refuseIfBlocked(tx, auth.companyId, row, current.status);
      const after = toTask(row);
      // A write that changes nothing a client can see is no write to anyone else.
      if (Object.keys(changesBetween(before, after)).length === 0 && before.is_blocked === after.is_blocked) {
        return { after, done: [], flips: [] };
      }
      const [sharedBefore, sharedAfter] = await links.sharedTasks(tx, auth.companyId, [current, row]);
      const done: TaskWrite[] = [
        {
          kind: 'updated',
          companyId: auth.companyId,
          actorId: actor.id,
          before: sharedBefore as Task,
          after: sharedAfter as Task,
        },
      ];
      const flips =
        (current.status === 'done') !== (row.status === 'done')
          ? await waitersFlipped(tx, auth.companyId, actor.id, [id], row.status === 'done')
          : [];
      done.push(...(await parentsRecounted(tx, auth.companyId, actor.id, [{ before: current, after: row }])));
      await this.written(tx, auth.companyId, actor.id, done, flips);
      // A new assignee watches it from now on (the inbox's): the caller assigning themself reads that.
      if (row.assigned_to === actor.id && current.assigned_to !== actor.id) {
        return { after: { ...after, is_watching: await reads.isWatching(tx, auth.companyId, id) }, done, flips };
      }
      return { after, done, flips };
    });
    await this.announce(done, flips);
    return after;
  }

  async delete(auth: Auth, id: number): Promise<void> {
    const write = await this.db.tenant(auth, async (tx) => {
      const actor = await requireActor(tx, auth);
      const current = await reads.findTask(tx, auth.companyId, id, { forUpdate: true });
      if (current === undefined) throw notFound();
      await requireProject(tx, auth, current.project_id, 'write', { actor });
      // The tasks that wait for it and its subtasks lose the link (the triggers of drizzle/0018):
      // each is told again, wherever it is.
      const [gone] = await links.sharedTasks(tx, auth.companyId, [current]);
      const linked = await links.readShared(tx, auth.companyId, () => links.linkedToTask(tx, auth.companyId, id));
      await writes.deleteTask(tx, auth.companyId, id);
      const relinked = await links.readShared(tx, auth.companyId, () =>
        links.rowsByIds(
          tx,
          auth.companyId,
          linked.map(({ row }) => row.id),
        ),
      );
      const done: TaskWrite[] = [
        { kind: 'deleted', companyId: auth.companyId, actorId: actor.id, before: gone as Task, after: null },
        ...relinked.map(
          ({ task }, i): TaskWrite => ({
            kind: 'updated',
            companyId: auth.companyId,
            actorId: actor.id,
            before: linked[i]?.task as Task,
            after: task,
          }),
        ),
      ];
      done.push(...(await parentsRecounted(tx, auth.companyId, actor.id, [{ before: current, after: null }])));
      await this.written(tx, auth.companyId, actor.id, done);
      return done;
    });
    await this.announce(write);
  }

  /**
   * Ids deleted at or after `since`: with `updated_after` on the list, what a client that was
   * offline needs to catch up (a deletion at the very instant given is included, not missed).
   */
  deleted(auth: Auth, since: string, page: PageRequest): Promise<{ count: number; tasks: DeletedTask[] }> {
    const from = parseInstant(since);
    if (from === undefined) throw invalid({ since: [INVALID_INSTANT] });
    return this.db.tenant(auth, async (tx) => {
      const actor = await requireActor(tx, auth);
      // Deletions from the projects the caller sees, as the task's project was when it went.
      const seen = projectSeenSql(auth.companyId, taskHistory.projectId, actor);
      const total = await reads.countDeleted(tx, auth.companyId, from, seen);
      const rows = await reads.listDeleted(tx, auth.companyId, from, seen, page.size, page.offset);
      return { count: total, tasks: rows.map((r) => ({ id: r.id, deleted_at: r.at.toISOString() })) };
    });
  }

  history(auth: Auth, id: number, page: PageRequest): Promise<{ count: number; entries: HistoryEntry[] }> {
    return this.db.tenant(auth, async (tx) => {
      const { live } = await requireTaskRecords(tx, auth, id);
      const total = await reads.countHistory(tx, auth.companyId, id);
      if (!live && total === 0) throw notFound();
      const rows = await reads.listHistory(tx, auth.companyId, id, page.size, page.offset);
      return {
        count: total,
        entries: rows.map((r) => ({
          id: r.id,
          task: r.taskId,
          actor: r.actorId,
          action: r.action,
          changes: r.changes,
          at: r.at.toISOString(),
        })),
      };
    });
  }

  /**
   * A page of the list (its filters and ordering apply) followed by the external feed's items. The
   * feed is fetched while the database works; it is the same for everyone, so starting it before
   * the caller is checked reveals nothing. A failed feed is an error message, never a failed answer.
   */
  async external(auth: Auth, query: TaskListQuery, page: PageRequest): Promise<ExternalTasksAnswer> {
    const [local, feed] = await Promise.all([this.list(auth, query, page), this.feed.load()]);
    return {
      results: [...local.tasks.map((task) => ({ ...task, source: 'local' as const })), ...feed.items],
      local_count: local.tasks.length,
      external_count: feed.items.length,
      external_error: feed.error,
    };
  }

  /**
   * From the counters kept by triggers on tasks (task_counters_changed(), current definition in
   * drizzle/0014), read in the caller's own transaction and statement with the caller's check:
   * cheap at any number of tasks, and each answer reflects every write committed before the request.
   */
  async statistics(auth: Auth, projectId?: number): Promise<Statistics> {
    const row = await reads.checkedStatistics(this.statement(auth), auth.companyId, auth.userId, projectId);
    checkActor(row.active);
    // A project's statistics come with its statuses, which it always has when the caller sees it.
    if (projectId !== undefined && row.by_state == null) throw notFound();
    return {
      ...(projectId === undefined ? {} : { by_state: row.by_state ?? [] }),
      total: row.todo + row.in_progress + row.done,
      by_status: { todo: row.todo, in_progress: row.in_progress, done: row.done },
      by_priority: { low: row.low, medium: row.medium, high: row.high, urgent: row.urgent },
      overdue: row.overdue,
      completion_rate: row.completion_rate,
      avg_completion_hours: row.avg_completion_hours,
      by_assignee: row.by_assignee,
      unassigned: row.unassigned,
      created_per_day: row.created_per_day,
    };
  }
}
