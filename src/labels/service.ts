import { requireActor } from '../accounts/service.ts';
import type { Auth } from '../platform/auth.ts';
import { pgErrorInfo, UNIQUE_VIOLATION } from '../platform/db/errors.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { fieldError, notFound, permissionDenied } from '../platform/errors.ts';
import { NO_EVENTS, type ProjectEvents } from '../projects/hooks.ts';
import * as q from './queries.ts';
import type { Label, LabelBody, LabelPatch } from './schemas.ts';

/** Colours a label gets when none is given, in turn. */
const PALETTE = ['#ef4444', '#f59e0b', '#10b981', '#3b82f6', '#8b5cf6', '#ec4899', '#14b8a6', '#84cc16'];

function rethrowNameTaken(error: unknown): never {
  const info = pgErrorInfo(error);
  if (info?.code === UNIQUE_VIOLATION && info.constraint === 'labels_name_key') {
    throw fieldError('name', 'A label with this name already exists.');
  }
  throw error;
}

/** Labels are the company's: everyone reads them, guests cannot write them. */
async function requireWriter(tx: Tx, auth: Auth): Promise<void> {
  const actor = await requireActor(tx, auth);
  if (actor.role === 'guest') throw permissionDenied('Guests cannot change labels.');
}

export class LabelsService {
  constructor(
    private readonly db: Database,
    private readonly events: ProjectEvents = NO_EVENTS,
  ) {}

  private async announce(auth: Auth, label: Label): Promise<Label> {
    await this.events.companyEvent(auth.companyId, { type: 'label_updated', label });
    return label;
  }

  list(auth: Auth): Promise<Label[]> {
    return this.db.tenant(auth, async (tx) => {
      await requireActor(tx, auth);
      return q.listLabels(tx, auth.companyId);
    });
  }

  create(auth: Auth, body: LabelBody): Promise<Label> {
    return this.db
      .tenant(auth, async (tx) => {
        await requireWriter(tx, auth);
        const count = (await q.listLabels(tx, auth.companyId)).length;
        const color = body.color?.toLowerCase() ?? (PALETTE[count % PALETTE.length] as string);
        return q.insertLabel(tx, { companyId: auth.companyId, name: body.name, color });
      })
      .catch(rethrowNameTaken)
      .then((label) => this.announce(auth, label));
  }

  update(auth: Auth, id: number, body: LabelPatch): Promise<Label> {
    return this.db
      .tenant(auth, async (tx) => {
        await requireWriter(tx, auth);
        const row = await q.updateLabel(tx, auth.companyId, id, { name: body.name, color: body.color?.toLowerCase() });
        if (row === undefined) throw notFound();
        return row;
      })
      .catch(rethrowNameTaken)
      .then((label) => this.announce(auth, label));
  }

  /** Its task_labels rows go with it (ON DELETE CASCADE). */
  async delete(auth: Auth, id: number): Promise<void> {
    await this.db.tenant(auth, async (tx) => {
      await requireWriter(tx, auth);
      if (!(await q.deleteLabel(tx, auth.companyId, id))) throw notFound();
    });
    await this.events.companyEvent(auth.companyId, { type: 'label_deleted', label: { id } });
  }
}
