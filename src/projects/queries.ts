import { and, asc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../platform/db/index.ts';
import { type ProjectRole, projectMembers, projects, statuses, type TaskStatus } from '../platform/db/schema.ts';

/** A project as the service reads it, with the caller's own membership role (null: none). */
export interface ProjectRow {
  id: number;
  companyId: number;
  key: string;
  name: string;
  description: string;
  isPrivate: boolean;
  isDefault: boolean;
  archived: boolean;
  createdBy: number | null;
  nextNumber: number;
  createdAt: Date;
  updatedAt: Date;
  memberRole: ProjectRole | null;
}

const columns = (userId: number) => ({
  id: projects.id,
  companyId: projects.companyId,
  key: projects.key,
  name: projects.name,
  description: projects.description,
  isPrivate: projects.isPrivate,
  isDefault: projects.isDefault,
  archived: projects.archived,
  createdBy: projects.createdBy,
  nextNumber: projects.nextNumber,
  createdAt: projects.createdAt,
  updatedAt: projects.updatedAt,
  memberRole: sql<ProjectRole | null>`(select m.role from project_members m where m.company_id = ${projects.companyId}
    and m.project_id = ${projects.id} and m.user_id = ${userId})`,
});

export async function findProject(
  tx: Tx,
  companyId: number,
  userId: number,
  id: number,
  lock = false,
): Promise<ProjectRow | undefined> {
  const query = tx
    .select(columns(userId))
    .from(projects)
    .where(and(eq(projects.companyId, companyId), eq(projects.id, id)));
  const [row] = await (lock ? query.for('update') : query);
  return row;
}

export async function findDefaultProject(tx: Tx, companyId: number, userId: number): Promise<ProjectRow | undefined> {
  const [row] = await tx
    .select(columns(userId))
    .from(projects)
    .where(and(eq(projects.companyId, companyId), eq(projects.isDefault, true)));
  return row;
}

export async function countProjects(tx: Tx, companyId: number, archived: boolean, sees: SQL): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(projects)
    .where(and(eq(projects.companyId, companyId), eq(projects.archived, archived), sees));
  return row?.n ?? 0;
}

export function listProjects(
  tx: Tx,
  companyId: number,
  userId: number,
  archived: boolean,
  sees: SQL,
  limit: number,
  offset: number,
): Promise<ProjectRow[]> {
  return tx
    .select(columns(userId))
    .from(projects)
    .where(and(eq(projects.companyId, companyId), eq(projects.archived, archived), sees))
    .orderBy(sql`lower(${projects.name})`, asc(projects.id))
    .limit(limit)
    .offset(offset);
}

export function projectsByIds(tx: Tx, companyId: number, userId: number, ids: number[]): Promise<ProjectRow[]> {
  return tx
    .select(columns(userId))
    .from(projects)
    .where(and(eq(projects.companyId, companyId), inArray(projects.id, ids)))
    .orderBy(asc(projects.id));
}

/** Of these projects, whether each is private; of these users, their memberships in them. */
export async function privacyAndMembers(tx: Tx, companyId: number, projectIds: number[], userIds: number[]) {
  const privacy = await tx
    .select({ id: projects.id, isPrivate: projects.isPrivate })
    .from(projects)
    .where(and(eq(projects.companyId, companyId), inArray(projects.id, projectIds)));
  const members =
    userIds.length === 0
      ? []
      : await tx
          .select({ projectId: projectMembers.projectId, userId: projectMembers.userId, role: projectMembers.role })
          .from(projectMembers)
          .where(
            and(
              eq(projectMembers.companyId, companyId),
              inArray(projectMembers.projectId, projectIds),
              inArray(projectMembers.userId, userIds),
            ),
          );
  return { privacy, members };
}

export async function keysLike(tx: Tx, companyId: number, prefix: string): Promise<Set<string>> {
  const rows = await tx
    .select({ key: projects.key })
    .from(projects)
    .where(and(eq(projects.companyId, companyId), sql`upper(${projects.key}) like ${`${prefix}%`}`));
  return new Set(rows.map((r) => r.key.toUpperCase()));
}

export async function insertProject(
  tx: Tx,
  values: { companyId: number; key: string; name: string; description: string; isPrivate: boolean; createdBy: number },
): Promise<number> {
  // Not RETURNING: row-level security would check the new row against what the caller sees, and
  // its maker sees a private project only once they are its member (the next statement).
  await tx.insert(projects).values(values);
  const [row] = await queryRows<{ id: number }>(tx, sql`select currval('projects_id_seq')::int as id`);
  return row?.id as number;
}

export async function updateProject(
  tx: Tx,
  companyId: number,
  id: number,
  changes: Partial<{ key: string; name: string; description: string; isPrivate: boolean; archived: boolean }>,
): Promise<void> {
  await tx
    .update(projects)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(projects.companyId, companyId), eq(projects.id, id)));
}

export async function deleteProject(tx: Tx, companyId: number, id: number): Promise<void> {
  await tx.delete(projects).where(and(eq(projects.companyId, companyId), eq(projects.id, id)));
}

export async function countMembers(tx: Tx, companyId: number, projectId: number): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(projectMembers)
    .where(and(eq(projectMembers.companyId, companyId), eq(projectMembers.projectId, projectId)));
  return row?.n ?? 0;
}

export function listMembers(tx: Tx, companyId: number, projectId: number, limit: number, offset: number) {
  return tx
    .select({ userId: projectMembers.userId, role: projectMembers.role })
    .from(projectMembers)
    .where(and(eq(projectMembers.companyId, companyId), eq(projectMembers.projectId, projectId)))
    .orderBy(asc(projectMembers.userId))
    .limit(limit)
    .offset(offset);
}

export async function upsertMember(
  tx: Tx,
  values: { companyId: number; projectId: number; userId: number; role: ProjectRole },
): Promise<void> {
  await tx
    .insert(projectMembers)
    .values(values)
    .onConflictDoUpdate({
      target: [projectMembers.companyId, projectMembers.projectId, projectMembers.userId],
      set: { role: values.role },
    });
}

export async function deleteMember(tx: Tx, companyId: number, projectId: number, userId: number): Promise<boolean> {
  const rows = await tx
    .delete(projectMembers)
    .where(
      and(
        eq(projectMembers.companyId, companyId),
        eq(projectMembers.projectId, projectId),
        eq(projectMembers.userId, userId),
      ),
    )
    .returning({ userId: projectMembers.userId });
  return rows.length > 0;
}

export async function findStatus(
  tx: Tx,
  companyId: number,
  id: number,
): Promise<{ id: number; projectId: number; category: TaskStatus } | undefined> {
  const [row] = await tx
    .select({ id: statuses.id, projectId: statuses.projectId, category: statuses.category })
    .from(statuses)
    .where(and(eq(statuses.companyId, companyId), eq(statuses.id, id)));
  return row;
}

export interface StatusRow {
  id: number;
  projectId: number;
  name: string;
  category: TaskStatus;
  position: number;
  color: string;
}

const statusColumns = {
  id: statuses.id,
  projectId: statuses.projectId,
  name: statuses.name,
  category: statuses.category,
  position: statuses.position,
  color: statuses.color,
};

/** In position order, locked when a change is to renumber them. */
export function listStatuses(tx: Tx, companyId: number, projectId: number, lock = false): Promise<StatusRow[]> {
  const query = tx
    .select(statusColumns)
    .from(statuses)
    .where(and(eq(statuses.companyId, companyId), eq(statuses.projectId, projectId)))
    .orderBy(asc(statuses.position), asc(statuses.id));
  return lock ? query.for('update') : query;
}

export async function insertStatus(
  tx: Tx,
  values: { companyId: number; projectId: number; name: string; category: TaskStatus; color: string; position: number },
): Promise<number> {
  const [row] = await tx.insert(statuses).values(values).returning({ id: statuses.id });
  return row?.id as number;
}

export async function updateStatus(
  tx: Tx,
  companyId: number,
  id: number,
  changes: Partial<{ name: string; category: TaskStatus; color: string }>,
): Promise<void> {
  const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  if (Object.keys(given).length === 0) return;
  await tx
    .update(statuses)
    .set(given)
    .where(and(eq(statuses.companyId, companyId), eq(statuses.id, id)));
}

/** Positions 0..n−1 in the order given. */
export async function renumberStatuses(tx: Tx, companyId: number, ids: number[]): Promise<void> {
  await tx.execute(sql`update statuses s set position = o.position - 1
    from unnest(${sql.param(ids)}::int[]) with ordinality as o(id, position)
    where s.company_id = ${companyId} and s.id = o.id and s.position <> o.position - 1`);
}

export async function deleteStatus(tx: Tx, companyId: number, id: number): Promise<void> {
  await tx.delete(statuses).where(and(eq(statuses.companyId, companyId), eq(statuses.id, id)));
}

export async function projectIdsWhere(tx: Tx, companyId: number, condition: SQL): Promise<number[]> {
  const rows = await tx
    .select({ id: projects.id })
    .from(projects)
    .where(and(eq(projects.companyId, companyId), condition));
  return rows.map((r) => r.id);
}
