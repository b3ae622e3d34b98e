import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { Tx } from '../platform/db/index.ts';
import { idempotencyKeys, type TaskHistoryAction, type TaskStatus, taskLabels, tasks } from '../platform/db/schema.ts';
import { mayWriteSql } from '../projects/access.ts';
import { TASK_COLUMNS, type TaskRow, taskRowColumns, watchingSql } from './mapping.ts';

/** The columns a client can set, in the table's terms. */
export interface TaskValues {
  title: string;
  description: string;
  status: TaskRow['status'];
  priority: TaskRow['priority'];
  dueDate: Date | null;
  assignedTo: number | null;
  projectId: number;
  stateId: number;
  parentId: number | null;
}

export async function insertTask(
  tx: Tx,
  values: Omit<TaskValues, 'stateId' | 'parentId'> & {
    stateId?: number;
    parentId?: number | null;
    companyId: number;
    createdBy: number;
    completedAt: SQL | null;
  },
): Promise<TaskRow> {
  // DEFAULT, there being none, is NULL: the trigger tasks_fill_project() gives the project's next
  // number, and the project's first state of the status when none is given.
  const [row] = await tx
    .insert(tasks)
    .values({ ...values, number: sql`default`, stateId: values.stateId ?? sql`default` })
    .returning(taskRowColumns);
  if (row === undefined) throw new Error('insert into tasks returned nothing');
  return row;
}

/** A creation that concerns its creator alone (see soleCreationStatements): the caller and the body's values. */
export interface SoleCreation
  extends Pick<TaskValues, 'title' | 'description' | 'status' | 'priority' | 'dueDate' | 'assignedTo'> {
  companyId: number;
  userId: number;
  /** Undefined: the company's default project. */
  projectId: number | undefined;
  /** The history entry's changes that the body decides; the project's, ref, state and completed_at are the statement's. */
  changes: Record<string, [unknown, unknown]>;
}

/**
 * The text of soleCreationStatements' first statement, for the listeners' CTEs given: the caller's
 * check (active, and may write in the project: `mayWriteSql`), the insert (its number and state
 * from the trigger tasks_fill_project(), whose lock on the project's row orders the numbers as the
 * commits), its history entry, the listeners' parts, and the new row, remembered for the second
 * statement in app.created_task. No row, and nothing written, when the caller may not create it.
 */
export function soleCreationText(listenerSql: readonly string[]): string {
  const listeners = listenerSql.map((text, i) => `, listener${i} as (${text})`).join('');
  return `with actor as materialized (
  select u.id, u.role from users u join companies c on c.id = u.company_id
  where u.company_id = $1 and u.id = $2 and u.is_active
), target as materialized (
  select p.id, p.key from projects p, actor me
  where p.company_id = $1 and case when $3::int is null then p.is_default else p.id = $3::int end
    and ${mayWriteSql('p', 'me.role', 'me.id')}
), created as (
  insert into tasks (company_id, title, description, status, priority, due_date, assigned_to, created_by,
                     project_id, completed_at)
  select $1, $4::text, $5::text, $6::text, $7::text, $8::timestamptz, $9::int, me.id, p.id,
         case when $6::text = 'done' then now() end
  from actor me, target p
  returning *
), history as (
  insert into task_history (company_id, task_id, project_id, actor_id, action, changes)
  select t.company_id, t.id, t.project_id, t.created_by, 'created', $10::jsonb
    || jsonb_build_object('project', jsonb_build_array(null, t.project_id),
                          'ref', jsonb_build_array(null, p.key || '-' || t.number),
                          'state', jsonb_build_array(null, t.state_id))
    || case when t.completed_at is null then '{}'::jsonb else jsonb_build_object('completed_at', jsonb_build_array(null,
         to_char(t.completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) end
  from created t, target p
)${listeners}
select ${TASK_COLUMNS}, set_config('app.created_task', t.id::text, true) as remembered from created t`;
}

/**
 * A creation that concerns its creator alone, in two statements written at once: the creation
 * (soleCreationText, `text`), then whether the creator watches the task once the listeners' parts
 * are done (false when nothing was created).
 */
export function soleCreationStatements(text: string, c: SoleCreation): Array<{ text: string; params: unknown[] }> {
  return [
    {
      text,
      params: [
        c.companyId,
        c.userId,
        c.projectId ?? null,
        c.title,
        c.description,
        c.status,
        c.priority,
        c.dueDate,
        c.assignedTo,
        JSON.stringify(c.changes),
      ],
    },
    {
      text: `select ${watchingSql('t')} as watching
        from (select $1::int as company_id, nullif(current_setting('app.created_task', true), '')::int as id) t`,
      params: [c.companyId],
    },
  ];
}

/** Replaces a task's labels. */
export async function setTaskLabels(tx: Tx, companyId: number, taskId: number, labelIds: number[]): Promise<void> {
  await tx.delete(taskLabels).where(and(eq(taskLabels.companyId, companyId), eq(taskLabels.taskId, taskId)));
  if (labelIds.length > 0) {
    await tx.insert(taskLabels).values(labelIds.map((labelId) => ({ companyId, taskId, labelId })));
  }
}

/** The task's row as its labels left it. */
export async function reloadTask(tx: Tx, companyId: number, id: number): Promise<TaskRow> {
  const [row] = await tx
    .select(taskRowColumns)
    .from(tasks)
    .where(and(eq(tasks.companyId, companyId), eq(tasks.id, id)));
  if (row === undefined) throw new Error('insert into tasks returned nothing');
  return row;
}

export async function updateTask(
  tx: Tx,
  companyId: number,
  id: number,
  changes: Partial<TaskValues> & { completedAt?: SQL | null },
): Promise<TaskRow> {
  const [row] = await tx
    .update(tasks)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(tasks.companyId, companyId), eq(tasks.id, id)))
    .returning(taskRowColumns);
  if (row === undefined) throw new Error('update of a locked task returned nothing');
  return row;
}

export async function deleteTask(tx: Tx, companyId: number, id: number): Promise<void> {
  await tx.delete(tasks).where(and(eq(tasks.companyId, companyId), eq(tasks.id, id)));
}

export interface HistoryValues {
  taskId: number;
  /** The task's project at the time: who sees the entry of a deleted task follows it. */
  projectId: number;
  action: TaskHistoryAction;
  changes: Record<string, [unknown, unknown]>;
}

/** One actor's entries, however many, in one statement. */
export async function insertHistory(
  tx: Tx,
  companyId: number,
  actorId: number,
  entries: readonly HistoryValues[],
): Promise<void> {
  if (entries.length === 0) return;
  await tx.execute(sql`insert into task_history (company_id, task_id, project_id, actor_id, action, changes)
    select ${companyId}, e."taskId", e."projectId", ${actorId}, e.action, e.changes
      from jsonb_to_recordset(${JSON.stringify(entries)}::jsonb)
        as e("taskId" int, "projectId" int, action text, changes jsonb)`);
}

/**
 * Every task in state `from` into the state `to` and its category, completed_at following (a
 * status deleted with move_to, or, `to` being `from`, a status whose category changed): the rows
 * before and after, by id, locked until the transaction ends. Two statements, whatever the number.
 */
export async function moveTasksOfState(
  tx: Tx,
  companyId: number,
  from: number,
  to: { id: number; category: TaskStatus },
): Promise<{ before: TaskRow[]; after: TaskRow[] }> {
  const before = await tx
    .select(taskRowColumns)
    .from(tasks)
    .where(
      and(
        eq(tasks.companyId, companyId),
        eq(tasks.stateId, from),
        sql`(${tasks.stateId} <> ${to.id} or ${tasks.status} <> ${to.category})`,
      ),
    )
    .orderBy(tasks.id)
    .for('update');
  if (before.length === 0) return { before, after: [] };
  const after = await tx
    .update(tasks)
    .set({
      stateId: to.id,
      status: to.category,
      updatedAt: sql`now()`,
      completedAt: sql`case when ${to.category}::text = 'done' then coalesce(${tasks.completedAt}, now()) end`,
    })
    .where(
      and(eq(tasks.companyId, companyId), sql`${tasks.id} = any(${sql.param(before.map((row) => row.id))}::int[])`),
    )
    .returning(taskRowColumns);
  return { before, after: after.sort((a, b) => a.id - b.id) };
}

const IDEMPOTENCY_TTL = sql`interval '24 hours'`;

/**
 * Takes the key for this request: true when the caller is the first (or the earlier use has
 * expired). A concurrent holder of the same key makes this wait until it commits or rolls back.
 */
export async function claimIdempotencyKey(tx: Tx, companyId: number, userId: number, key: string): Promise<boolean> {
  const rows = await tx
    .insert(idempotencyKeys)
    .values({ companyId, userId, key })
    .onConflictDoUpdate({
      target: [idempotencyKeys.companyId, idempotencyKeys.userId, idempotencyKeys.key],
      set: { statusCode: null, body: null, createdAt: sql`now()` },
      setWhere: sql`${idempotencyKeys.createdAt} < now() - ${IDEMPOTENCY_TTL}`,
    })
    .returning({ key: idempotencyKeys.key });
  return rows.length > 0;
}

export async function findIdempotentAnswer(tx: Tx, companyId: number, userId: number, key: string) {
  const [row] = await tx
    .select({ statusCode: idempotencyKeys.statusCode, body: idempotencyKeys.body })
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.companyId, companyId),
        eq(idempotencyKeys.userId, userId),
        eq(idempotencyKeys.key, key),
        sql`${idempotencyKeys.createdAt} >= now() - ${IDEMPOTENCY_TTL}`,
      ),
    );
  return row?.statusCode == null ? undefined : { statusCode: row.statusCode, body: row.body };
}

export async function saveIdempotentAnswer(
  tx: Tx,
  companyId: number,
  userId: number,
  key: string,
  answer: { statusCode: number; body: unknown },
): Promise<void> {
  await tx
    .update(idempotencyKeys)
    .set(answer)
    .where(
      and(eq(idempotencyKeys.companyId, companyId), eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)),
    );
}

/** Across companies (the maintenance purge): keys older than they are honoured. */
export async function unsafePurgeExpiredIdempotencyKeys(tx: Tx): Promise<number> {
  const keys = await tx
    .delete(idempotencyKeys)
    .where(sql`${idempotencyKeys.createdAt} < now() - ${IDEMPOTENCY_TTL}`)
    .returning({ userId: idempotencyKeys.userId });
  return keys.length;
}
