/**
 * Who may do what in a project: the one place that decides it, from the caller's company role,
 * their role in the project (if any) and the project's privacy. Row-level security enforces the
 * "sees" half again underneath (app_hidden_projects(), drizzle/0016), with the same rule.
 */
import { type Column, type SQL, sql } from 'drizzle-orm';
import type { ProjectRole, UserRole } from '../platform/db/schema.ts';
import { HttpError, notFound, permissionDenied } from '../platform/errors.ts';

export type Action = 'read' | 'write' | 'manage';

/**
 * The caller's effective role in a project, or null when they do not see it: a company admin
 * manages every project; a project member has their role; a company member writes in a public
 * project as a member; a guest sees only the projects they are a member of.
 */
export function effectiveRole(
  companyRole: UserRole,
  memberRole: ProjectRole | null,
  isPrivate: boolean,
): ProjectRole | null {
  if (companyRole === 'admin') return 'manager';
  if (memberRole !== null) return memberRole;
  if (companyRole === 'member' && !isPrivate) return 'member';
  return null;
}

export const archivedConflict = () =>
  new HttpError(409, { detail: 'This project is archived: it is read-only until a manager restores it.' });

/**
 * Throws what the contract answers when `role` may not do `action` in a project: 404 when the
 * project is not seen, 403 when it is but the role does not allow the action, 409 when the project
 * is archived and the action writes.
 */
export function requireAllowed(role: ProjectRole | null, archived: boolean, action: Action): ProjectRole {
  if (role === null) throw notFound();
  if (action === 'write' && role === 'viewer') throw permissionDenied('Viewers cannot change this project’s work.');
  if (action === 'manage' && role !== 'manager') throw permissionDenied('Only the project’s managers can do this.');
  if (action !== 'read' && archived) throw archivedConflict();
  return role;
}

/**
 * The same rule as effectiveRole's "sees", as SQL over a projects row `p` (its company_id, id,
 * is_private), for the code's own filter on lists.
 */
export function seesProjectSql(p: string, actor: { id: number; role: UserRole }): SQL {
  if (actor.role === 'admin') return sql`true`;
  const member = sql`exists (select 1 from project_members m where m.company_id = ${sql.raw(p)}.company_id
    and m.project_id = ${sql.raw(p)}.id and m.user_id = ${actor.id})`;
  return actor.role === 'member' ? sql`(not ${sql.raw(p)}.is_private or ${member})` : member;
}

/**
 * effectiveRole and requireAllowed's 'write' as SQL text over a projects row `p` and the caller's
 * company role `role` (SQL text) and id `userId`: the caller may write in the project, for a write
 * made in one statement (a task's creation) that must change nothing when they may not.
 */
export function mayWriteSql(p: string, role: string, userId: string): string {
  const memberRole = `(select m.role from project_members m where m.company_id = ${p}.company_id
    and m.project_id = ${p}.id and m.user_id = ${userId})`;
  return `not ${p}.archived and coalesce(case when ${role} = 'admin' then 'manager' end, ${memberRole},
    case when ${role} = 'member' and not ${p}.is_private then 'member' end) in ('manager', 'member')`;
}

/**
 * Whether the caller sees the project a column names (of records that outlive their task, such as
 * its deletion): a company admin sees every one, even one deleted since; anyone else one that
 * exists and that seesProjectSql lets them see.
 */
export function projectSeenSql(companyId: number, projectId: SQL | Column, actor: { id: number; role: UserRole }): SQL {
  if (actor.role === 'admin') return sql`true`;
  return sql`exists (select 1 from projects sp where sp.company_id = ${companyId} and sp.id = ${projectId}
    and ${seesProjectSql('sp', actor)})`;
}

/** A task's project key, as SQL text over a tasks row `t`: for its ref. */
export const projectKeySql = (t: string) =>
  `(select p.key from projects p where p.company_id = ${t}.company_id and p.id = ${t}.project_id)`;

/**
 * The company's projects a caller's lists, statistics and reads leave out, as SQL text of a
 * materialized CTE `scope (hidden int[])` for a statement whose $1 is the company and $2 the caller:
 * those the caller does not see (the rule of effectiveRole), and the archived ones too when
 * `archived` is 'excluded'. It reads the caller's company role from accounts' users in the same
 * statement, as the caller's check (WITH_ACTOR) does.
 *
 * Statements filter with `project_id <> all((select hidden from scope))`, not with the projects
 * seen: the planner takes "<> all" of an array it cannot see for letting nearly every row through,
 * which is the truth for nearly every caller, and keeps the ordered index scans of the company
 * filter; "= any(seen)" made it expect a handful of rows and sort whole projects (bench/tasks.ts:
 * the task list at 21 requests a second instead of 3,693). Row-level security hides the projects a
 * caller does not see from this statement too (drizzle/0016), with the same rule.
 */
export function scopeCte(archived: 'excluded' | 'included'): string {
  const archivedHidden = archived === 'excluded' ? 'p.archived or ' : '';
  // The caller's role read once; their memberships only for the projects it does not open.
  return `scope as materialized (
  select array(select p.id from projects p where p.company_id = $1 and (${archivedHidden}not coalesce(
    me.role = 'admin' or (me.role = 'member' and not p.is_private)
    or exists (select 1 from project_members m where m.company_id = $1 and m.project_id = p.id and m.user_id = $2),
    false))) as hidden
  from (select (select u.role from users u where u.company_id = $1 and u.id = $2) as role) me
)`;
}

/** The filter of scopeCte's statements, over a row's project id column. */
export const inScopeSql = (column: string) => `${column} <> all((select hidden from scope)::int[])`;

/**
 * Whether a user sees a project, both named by SQL (columns of a set of rows, for what is written
 * for many people at once, across companies): the rule of effectiveRole, for an active user.
 */
export function unsafeUserSeesProjectSql(companyId: SQL, userId: SQL, projectId: SQL): SQL {
  return sql`exists (select 1 from users su join projects sp on sp.company_id = su.company_id
    where su.company_id = ${companyId} and su.id = ${userId} and su.is_active and sp.id = ${projectId}
      and (su.role = 'admin' or (su.role = 'member' and not sp.is_private)
           or exists (select 1 from project_members sm where sm.company_id = su.company_id
                        and sm.project_id = sp.id and sm.user_id = su.id)))`;
}
