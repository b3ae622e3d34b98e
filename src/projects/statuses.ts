import type { Auth } from '../platform/auth.ts';
import { FOREIGN_KEY_VIOLATION, pgErrorInfo, UNIQUE_VIOLATION } from '../platform/db/errors.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import type { TaskStatus } from '../platform/db/schema.ts';
import { fieldError, HttpError, invalid } from '../platform/errors.ts';
import type { ProjectEvents, StateMoves } from './hooks.ts';
import * as q from './queries.ts';
import type { StatusBody, StatusPatch, WorkflowStatus } from './schemas.ts';
import { requireProject } from './service.ts';

export const MAX_STATUSES = 30;
const DEFAULT_COLOR: Record<TaskStatus, string> = { todo: '#6b7280', in_progress: '#2563eb', done: '#16a34a' };

export const toStatus = (row: q.StatusRow): WorkflowStatus => ({
  id: row.id,
  project: row.projectId,
  name: row.name,
  category: row.category,
  position: row.position,
  color: row.color,
});

function rethrowNameTaken(error: unknown): never {
  const info = pgErrorInfo(error);
  if (info?.code === UNIQUE_VIOLATION && info.constraint === 'statuses_name_key') {
    throw fieldError('name', 'This project already has a status with this name.');
  }
  throw error;
}

/** The category must keep a status: a project always has somewhere to put new and finished tasks. */
function keepsTodoAndDone(all: q.StatusRow[], without: q.StatusRow, category?: TaskStatus) {
  if (without.category === 'in_progress' || category === without.category) return;
  if (all.filter((s) => s.category === without.category).length <= 1) {
    throw new HttpError(409, { detail: `The project’s last status of the category ${without.category} must stay.` });
  }
}

/** `moved` put at `position` (clamped), the others in their order: positions 0..n−1. */
function reordered(all: q.StatusRow[], moved: number, position: number): number[] {
  const ids = all.map((s) => s.id).filter((id) => id !== moved);
  ids.splice(Math.min(position, ids.length), 0, moved);
  return ids;
}

export class StatusesService {
  constructor(
    private readonly db: Database,
    private readonly events: ProjectEvents,
    private readonly tasks: StateMoves,
  ) {}

  list(auth: Auth, projectId: number): Promise<WorkflowStatus[]> {
    return this.db.tenant(auth, async (tx) => {
      await requireProject(tx, auth, projectId, 'read');
      return (await q.listStatuses(tx, auth.companyId, projectId)).map(toStatus);
    });
  }

  create(auth: Auth, projectId: number, body: StatusBody): Promise<WorkflowStatus> {
    return this.db
      .tenant(auth, async (tx) => {
        // The project's row locked: concurrent changes to its statuses take turns.
        await requireProject(tx, auth, projectId, 'manage', { lock: true });
        const all = await q.listStatuses(tx, auth.companyId, projectId);
        if (all.length >= MAX_STATUSES) {
          throw invalid({ non_field_errors: [`A project has at most ${MAX_STATUSES} statuses.`] });
        }
        const id = await q.insertStatus(tx, {
          companyId: auth.companyId,
          projectId,
          name: body.name,
          category: body.category,
          color: body.color?.toLowerCase() ?? DEFAULT_COLOR[body.category],
          position: all.length,
        });
        const created = { ...(all[0] as q.StatusRow), id, position: all.length };
        await q.renumberStatuses(tx, auth.companyId, reordered([...all, created], id, body.position ?? all.length));
        return this.one(tx, auth, projectId, id);
      })
      .catch(rethrowNameTaken)
      .then(async (status) => {
        await this.events.projectEvent(auth.companyId, projectId, { type: 'status_updated', status });
        return status;
      });
  }

  async update(auth: Auth, projectId: number, id: number, body: StatusPatch): Promise<WorkflowStatus> {
    const { status, announceTasks } = await this.db
      .tenant(auth, async (tx) => {
        const { actor } = await requireProject(tx, auth, projectId, 'manage', { lock: true });
        const all = await q.listStatuses(tx, auth.companyId, projectId);
        const current = all.find((s) => s.id === id);
        if (current === undefined) throw new HttpError(404, { detail: 'Not found.' });
        const recategorized = body.category !== undefined && body.category !== current.category;
        if (recategorized) keepsTodoAndDone(all, current, body.category);
        await q.updateStatus(tx, auth.companyId, id, {
          name: body.name,
          category: body.category,
          color: body.color?.toLowerCase(),
        });
        // Its tasks' status (and completed_at) follow the category.
        const announceTasks = recategorized
          ? await this.tasks.moveTasks(tx, auth.companyId, actor.id, id, { id, category: body.category as TaskStatus })
          : async () => {};
        if (body.position !== undefined) {
          await q.renumberStatuses(tx, auth.companyId, reordered(all, id, body.position));
        }
        return { status: await this.one(tx, auth, projectId, id), announceTasks };
      })
      .catch(rethrowNameTaken);
    await this.events.projectEvent(auth.companyId, projectId, { type: 'status_updated', status });
    await announceTasks();
    return status;
  }

  async delete(auth: Auth, projectId: number, id: number, moveTo?: number): Promise<void> {
    const announceTasks = await this.db.tenant(auth, async (tx) => {
      const { actor } = await requireProject(tx, auth, projectId, 'manage', { lock: true });
      const all = await q.listStatuses(tx, auth.companyId, projectId);
      const current = all.find((s) => s.id === id);
      if (current === undefined) throw new HttpError(404, { detail: 'Not found.' });
      keepsTodoAndDone(all, current);
      let announce = async () => {};
      if (moveTo !== undefined) {
        const target = all.find((s) => s.id === moveTo);
        if (target === undefined || target.id === id) {
          throw fieldError('move_to', 'Choose another status of the same project.');
        }
        announce = await this.tasks.moveTasks(tx, auth.companyId, actor.id, id, target);
      }
      try {
        await q.deleteStatus(tx, auth.companyId, id);
      } catch (error) {
        // Tasks still in it (no move_to): their reference refuses the deletion.
        if (pgErrorInfo(error)?.code === FOREIGN_KEY_VIOLATION) {
          throw new HttpError(409, { detail: 'Tasks are in this status: say where they go with ?move_to=.' });
        }
        throw error;
      }
      await q.renumberStatuses(
        tx,
        auth.companyId,
        all.filter((s) => s.id !== id).map((s) => s.id),
      );
      return announce;
    });
    // The tasks' new state first: a client never holds a task in a status it was told is gone.
    await announceTasks();
    await this.events.projectEvent(auth.companyId, projectId, { type: 'status_deleted', status: { id } });
  }

  private async one(tx: Tx, auth: Auth, projectId: number, id: number): Promise<WorkflowStatus> {
    const row = (await q.listStatuses(tx, auth.companyId, projectId)).find((s) => s.id === id);
    return toStatus(row as q.StatusRow);
  }
}
