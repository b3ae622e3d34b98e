import { sql } from 'drizzle-orm';
import type { UserRow } from '../accounts/queries.ts';
import { requireActor, usersByIds } from '../accounts/service.ts';
import type { Auth } from '../platform/auth.ts';
import { FOREIGN_KEY_VIOLATION, pgErrorInfo, UNIQUE_VIOLATION } from '../platform/db/errors.ts';
import { type Database, intArraySql, queryRows, type Tx, withoutUser } from '../platform/db/index.ts';
import type { ProjectRole, UserRole } from '../platform/db/schema.ts';
import { fieldError, HttpError, permissionDenied } from '../platform/errors.ts';
import type { PageRequest } from '../platform/pagination.ts';
import {
  type Action,
  archivedConflict,
  effectiveRole,
  requireAllowed,
  seesProjectSql,
  unsafeUserSeesProjectSql,
} from './access.ts';
import { NO_EVENTS, type ProjectEvents } from './hooks.ts';
import * as q from './queries.ts';
import type { Member, Project, ProjectBody, ProjectPatch } from './schemas.ts';

/** A project the caller sees, with their effective role in it. */
export interface ProjectAccess {
  project: q.ProjectRow;
  role: ProjectRole;
  actor: UserRow;
}

export function toProject(row: q.ProjectRow, role: ProjectRole): Project {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    description: row.description,
    is_private: row.isPrivate,
    is_default: row.isDefault,
    archived: row.archived,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    my_role: role,
  };
}

/**
 * The caller's access to one project, checked for `action` (404 unseen, 403 not allowed, 409
 * archived for writes): what every feature acting in a project asks first, in its transaction.
 */
export async function requireProject(
  tx: Tx,
  auth: Auth,
  projectId: number,
  action: Action,
  options: { actor?: UserRow; lock?: boolean } = {},
): Promise<ProjectAccess> {
  const actor = options.actor ?? (await requireActor(tx, auth));
  return checked(actor, await q.findProject(tx, auth.companyId, auth.userId, projectId, options.lock), action);
}

/** requireProject for the company's default project, where a task goes when the write names none. */
export async function requireDefaultProject(
  tx: Tx,
  auth: Auth,
  action: Action,
  options: { actor?: UserRow } = {},
): Promise<ProjectAccess> {
  const actor = options.actor ?? (await requireActor(tx, auth));
  return checked(actor, await q.findDefaultProject(tx, auth.companyId, auth.userId), action);
}

/** An access already checked, checked again for another action, without reading the project again. */
export const requireAccess = (access: ProjectAccess, action: Action): ProjectAccess =>
  checked(access.actor, access.project, action);

function checked(actor: UserRow, project: q.ProjectRow | undefined, action: Action): ProjectAccess {
  const role = project && effectiveRole(actor.role, project.memberRole, project.isPrivate);
  return {
    project: project as q.ProjectRow,
    role: requireAllowed(role ?? null, project?.archived ?? false, action),
    actor,
  };
}

/** The caller's effective role in a project row, or null: for features that read projects in bulk. */
export const roleIn = (actor: UserRow, project: q.ProjectRow) =>
  effectiveRole(actor.role, project.memberRole, project.isPrivate);

/** A status by id (undefined: none the caller sees), for tasks' state. */
export const findStatus = q.findStatus;

/** The ids of the projects the caller sees ('all' for a company admin): which events their sockets get. */
export async function visibleProjectIds(tx: Tx, auth: Auth): Promise<'all' | Set<number>> {
  const actor = await requireActor(tx, auth);
  if (actor.role === 'admin') return 'all';
  return new Set(await q.projectIdsWhere(tx, auth.companyId, seesProjectSql('projects', actor)));
}

/** Every project of the company, seen or not (a transaction without a user): what an admin demoted stops seeing. */
export const allProjectIds = (tx: Tx, companyId: number) => q.projectIdsWhere(tx, companyId, sql`true`);

/** Those of these projects the caller sees, as they see them (my_role theirs): for telling them alone. */
export async function projectsSeenBy(tx: Tx, auth: Auth, ids: number[]): Promise<Project[]> {
  if (ids.length === 0) return [];
  const actor = await requireActor(tx, auth);
  return (await q.projectsByIds(tx, auth.companyId, auth.userId, ids)).flatMap((row) => {
    const role = roleIn(actor, row);
    return role === null ? [] : [toProject(row, role)];
  });
}

/**
 * Which of these people see which of these projects (effectiveRole's rule), as
 * `<userId>:<projectId>`: for what is done for others than the caller (emails), in two statements.
 */
export async function sightsOf(
  tx: Tx,
  companyId: number,
  people: ReadonlyArray<{ id: number; role: UserRole }>,
  projectIds: number[],
): Promise<Set<string>> {
  if (people.length === 0 || projectIds.length === 0) return new Set();
  const { privacy, members } = await q.privacyAndMembers(
    tx,
    companyId,
    projectIds,
    people.map((p) => p.id),
  );
  const roleOf = new Map(members.map((m) => [`${m.userId}:${m.projectId}`, m.role]));
  const sights = new Set<string>();
  for (const person of people) {
    for (const project of privacy) {
      const key = `${person.id}:${project.id}`;
      if (effectiveRole(person.role, roleOf.get(key) ?? null, project.isPrivate) !== null) sights.add(key);
    }
  }
  return sights;
}

/**
 * Which of these users (active ones) see the project: for what a write does for others than the
 * caller (mentions, inbox items). One statement; inside the caller's transaction it reads in the
 * company's view, so that a private project's members are known to a writer who is not one.
 */
export async function usersSeeingProject(
  tx: Tx,
  companyId: number,
  projectId: number,
  userIds: readonly number[],
): Promise<Set<number>> {
  if (userIds.length === 0) return new Set();
  const rows = await withoutUser(tx, () =>
    queryRows<{ id: number }>(
      tx,
      sql`select u.id from unnest(${intArraySql([...userIds])}) as u(id)
           where ${unsafeUserSeesProjectSql(sql`${companyId}::int`, sql`u.id`, sql`${projectId}::int`)}`,
    ),
  );
  return new Set(rows.map((r) => r.id));
}

/** A key from the project's name: its words' initials, or its first letters; made unique. */
async function keyFromName(tx: Tx, companyId: number, name: string): Promise<string> {
  const words = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter((w) => w !== '');
  let base = (words.length > 1 ? words.map((w) => w[0]).join('') : (words[0] ?? '').slice(0, 4))
    .replace(/^[0-9]+/, '')
    .toUpperCase()
    .slice(0, 6);
  if (base.length < 2) base = `${base}PRJ`.slice(0, 3);
  const taken = await q.keysLike(tx, companyId, base);
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}${n}`)) return `${base}${n}`;
}

const keyTaken = () => fieldError('key', 'A project with this key already exists.');

function rethrowKeyTaken(error: unknown): never {
  const info = pgErrorInfo(error);
  if (info?.code === UNIQUE_VIOLATION && info.constraint === 'projects_key_key') throw keyTaken();
  throw error;
}

export class ProjectsService {
  constructor(
    private readonly db: Database,
    private readonly events: ProjectEvents = NO_EVENTS,
  ) {}

  /** After a commit: the project as it now is, to those who see it; and who sees it, when that changed. */
  private async announce(auth: Auth, project: Project, visibility: 'everyone' | number | undefined): Promise<Project> {
    if (visibility !== undefined) {
      await this.events.visibilityChanged(auth.companyId, visibility === 'everyone' ? undefined : visibility);
    }
    const { my_role: _mine, ...shown } = project;
    await this.events.projectEvent(auth.companyId, project.id, { type: 'project_updated', project: shown });
    return project;
  }

  list(auth: Auth, archived: boolean, page: PageRequest): Promise<{ count: number; projects: Project[] }> {
    return this.db.tenant(auth, async (tx) => {
      const actor = await requireActor(tx, auth);
      const sees = seesProjectSql('projects', actor);
      const count = await q.countProjects(tx, auth.companyId, archived, sees);
      const rows = await q.listProjects(tx, auth.companyId, auth.userId, archived, sees, page.size, page.offset);
      return { count, projects: rows.map((row) => toProject(row, roleIn(actor, row) as ProjectRole)) };
    });
  }

  get(auth: Auth, id: number): Promise<Project> {
    return this.db.tenant(auth, async (tx) => {
      const { project, role } = await requireProject(tx, auth, id, 'read');
      return toProject(project, role);
    });
  }

  create(auth: Auth, body: ProjectBody): Promise<Project> {
    return this.db
      .tenant(auth, async (tx) => {
        const actor = await requireActor(tx, auth);
        if (actor.role === 'guest') throw permissionDenied('Guests cannot create projects.');
        const key = body.key?.toUpperCase() ?? (await keyFromName(tx, auth.companyId, body.name));
        const id = await q.insertProject(tx, {
          companyId: auth.companyId,
          key,
          name: body.name,
          description: body.description ?? '',
          isPrivate: body.is_private ?? false,
          createdBy: actor.id,
        });
        await q.upsertMember(tx, { companyId: auth.companyId, projectId: id, userId: actor.id, role: 'manager' });
        const { project, role } = await requireProject(tx, auth, id, 'read', { actor });
        return toProject(project, role);
      })
      .catch(rethrowKeyTaken)
      .then((project) => this.announce(auth, project, 'everyone'));
  }

  update(auth: Auth, id: number, body: ProjectPatch): Promise<Project> {
    return this.db
      .tenant(auth, async (tx) => {
        const actor = await requireActor(tx, auth);
        const found = await q.findProject(tx, auth.companyId, auth.userId, id, true);
        const role = found && roleIn(actor, found);
        // Restoring is the one change an archived project takes: only that, by a manager.
        const restoring = found?.archived === true && body.archived === false;
        requireAllowed(role ?? null, (found?.archived ?? false) && !restoring, 'manage');
        const project = found as q.ProjectRow;
        if (restoring && Object.keys(body).some((k) => k !== 'archived')) throw archivedConflict();
        if (project.isDefault && body.is_private === true) {
          throw fieldError('is_private', 'The default project is public.');
        }
        if (project.isDefault && body.archived === true) {
          throw fieldError('archived', 'The default project cannot be archived.');
        }
        const key = body.key?.toUpperCase();
        if (key !== undefined && key !== project.key && project.nextNumber > 1) {
          throw fieldError('key', 'The key cannot change once the project has tasks: their refs would break.');
        }
        await q.updateProject(tx, auth.companyId, id, {
          key,
          name: body.name,
          description: body.description,
          isPrivate: body.is_private,
          archived: body.archived,
        });
        const updated = await requireProject(tx, auth, id, 'read', { actor });
        return toProject(updated.project, updated.role);
      })
      .catch(rethrowKeyTaken)
      .then((project) => this.announce(auth, project, body.is_private === undefined ? undefined : 'everyone'));
  }

  delete(auth: Auth, id: number): Promise<void> {
    return this.db
      .tenant(auth, async (tx) => {
        const { project } = await requireProject(tx, auth, id, 'manage', { lock: true });
        if (project.isDefault) throw new HttpError(409, { detail: 'The default project cannot be deleted.' });
        await q.deleteProject(tx, auth.companyId, id);
      })
      .then(() => this.events.projectEvent(auth.companyId, id, { type: 'project_deleted', project: { id } }))
      .catch((error: unknown) => {
        // Its tasks' references refuse the deletion: that is the check, race-free.
        if (pgErrorInfo(error)?.code === FOREIGN_KEY_VIOLATION) {
          throw new HttpError(409, { detail: 'This project still has tasks: move or delete them first.' });
        }
        throw error;
      });
  }

  members(auth: Auth, id: number, page: PageRequest): Promise<{ count: number; members: Member[] }> {
    return this.db.tenant(auth, async (tx) => {
      await requireProject(tx, auth, id, 'read');
      const count = await q.countMembers(tx, auth.companyId, id);
      const rows = await q.listMembers(tx, auth.companyId, id, page.size, page.offset);
      const people = await usersByIds(
        tx,
        auth.companyId,
        rows.map((r) => r.userId),
      );
      return { count, members: rows.map((r) => toMember(people.get(r.userId) as UserRow, r.role)) };
    });
  }

  async setMember(auth: Auth, id: number, userId: number, role: ProjectRole): Promise<Member> {
    const member = await this.db.tenant(auth, async (tx) => {
      await requireProject(tx, auth, id, 'manage', { lock: true });
      const user = (await usersByIds(tx, auth.companyId, [userId])).get(userId);
      if (user === undefined || !user.isActive) throw fieldError('user', 'No such user in your company.');
      if (user.role === 'guest' && role === 'manager') throw fieldError('role', 'A guest cannot manage a project.');
      await q.upsertMember(tx, { companyId: auth.companyId, projectId: id, userId, role });
      return toMember(user, role);
    });
    await this.events.visibilityChanged(auth.companyId, userId);
    return member;
  }

  async removeMember(auth: Auth, id: number, userId: number): Promise<void> {
    await this.db.tenant(auth, async (tx) => {
      await requireProject(tx, auth, id, 'manage', { lock: true });
      const user = (await usersByIds(tx, auth.companyId, [userId])).get(userId);
      if (user === undefined) throw fieldError('user', 'No such user in your company.');
      await q.deleteMember(tx, auth.companyId, id, userId);
    });
    await this.events.visibilityChanged(auth.companyId, userId);
  }
}

function toMember(user: UserRow, role: ProjectRole): Member {
  return {
    user: { id: user.id, username: user.username, first_name: user.firstName, last_name: user.lastName },
    role,
  };
}
