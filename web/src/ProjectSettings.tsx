import { type DragEvent, type FormEvent, useCallback, useEffect, useId, useState } from 'react';
import {
  call,
  displayName,
  getAll,
  type Person,
  type Project,
  type ProjectMember,
  type ProjectRole,
  type User,
  type WorkflowStatus,
} from './api.ts';
import { errorsOf, Field, FormAlert, TextField, useSubmit } from './forms.tsx';
import { STATUS_LABELS } from './labels.ts';
import { ConfirmDialog, Modal } from './Modal.tsx';
import { Link, PageTitle } from './Shell.tsx';
import { useStatuses } from './useStatuses.ts';
import { boardPath, type Workspace } from './useWorkspace.ts';

const PROJECT_ROLES = ['manager', 'member', 'viewer'] as const satisfies readonly ProjectRole[];
const ROLE_LABELS: Record<ProjectRole, string> = { manager: 'Manager', member: 'Member', viewer: 'Viewer' };
const CATEGORIES = ['todo', 'in_progress', 'done'] as const satisfies readonly WorkflowStatus['category'][];

const messageOf = (error: unknown) => Object.values(errorsOf(error)).flat().join(' ');
const settingsPath = (project: Pick<Project, 'key'>) => `/p/${encodeURIComponent(project.key)}/settings`;

/** What a page section reports: a message for everyone (announced), or what went wrong. */
type Say = (message: string, failed?: boolean) => void;

function DetailsForm({ project, workspace, say }: { project: Project; workspace: Workspace; say: Say }) {
  const { errors, pending, run } = useSubmit();
  const headingId = useId();
  const change = (body: Partial<Project>, done: string) =>
    run(async () => {
      const { data } = await call<Project>('PATCH', `/api/projects/${project.id}/`, { body });
      // a new key is a new address
      if (data.key !== project.key) workspace.putAndGo(data, settingsPath(data));
      else workspace.put(data);
      say(done);
    });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    void change(
      {
        name: String(form.get('name') ?? '').trim(),
        key: String(form.get('key') ?? '').trim(),
        description: String(form.get('description') ?? ''),
        ...(project.is_default ? {} : { is_private: form.get('is_private') === 'on' }),
      },
      'Project saved.',
    );
  };
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Project</h2>
      <form onSubmit={submit} noValidate key={project.updated_at}>
        <FormAlert messages={errors.non_field_errors ?? errors.detail} />
        <fieldset className="plain" disabled={project.archived}>
          <div className="row">
            <TextField
              label="Name"
              name="name"
              required
              maxLength={100}
              defaultValue={project.name}
              errors={errors.name}
            />
            <TextField
              label="Key"
              name="key"
              required
              maxLength={10}
              defaultValue={project.key}
              hint="The prefix of its task numbers; it cannot change once the project has tasks."
              errors={errors.key}
            />
          </div>
          <Field label="Description" errors={errors.description}>
            {(props) => <textarea {...props} name="description" rows={3} defaultValue={project.description} />}
          </Field>
          <div className="check-row">
            <input
              type="checkbox"
              className="check-input"
              id={`${headingId}-private`}
              name="is_private"
              defaultChecked={project.is_private}
              disabled={project.is_default}
              aria-describedby={`${headingId}-private-hint`}
            />
            <div>
              <label htmlFor={`${headingId}-private`}>Private</label>
              <p className="hint" id={`${headingId}-private-hint`}>
                {project.is_default
                  ? 'The default project is open to the whole company.'
                  : 'Only its members (and the company’s admins) see it and its tasks.'}
              </p>
            </div>
          </div>
          {errors.is_private ? <FormAlert messages={errors.is_private} /> : null}
        </fieldset>
        <div className="actions start">
          {project.archived ? null : (
            <button type="submit" className="primary" disabled={pending}>
              {pending ? 'Saving…' : 'Save project'}
            </button>
          )}
          {project.is_default ? null : (
            <button
              type="button"
              disabled={pending}
              onClick={() =>
                void change(
                  { archived: !project.archived },
                  project.archived ? 'The project is active again.' : 'The project is archived: read only.',
                )
              }
            >
              {project.archived ? 'Restore from the archive' : 'Archive the project'}
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

function MembersSection({
  project,
  workspace,
  user,
  say,
}: {
  project: Project;
  workspace: Workspace;
  user: User;
  say: Say;
}) {
  const [members, setMembers] = useState<ProjectMember[] | undefined>();
  const [company, setCompany] = useState<Person[]>([]);
  const [removing, setRemoving] = useState<ProjectMember | undefined>();
  const headingId = useId();
  const readOnly = project.archived;

  const load = useCallback(async () => {
    try {
      setMembers((await getAll<ProjectMember>(`/api/projects/${project.id}/members/`)).items);
    } catch (failure) {
      say(`Could not load the members: ${messageOf(failure)}`, true);
    }
  }, [project.id, say]);
  useEffect(() => void load(), [load]);
  // Whom to add: the company's people. A guest, who never manages a project, never asks (a 403).
  useEffect(() => {
    if (!workspace.seesCompany) return;
    getAll<Person>('/api/auth/company-users/')
      .then(({ items }) => setCompany(items))
      .catch(() => undefined);
  }, [workspace.seesCompany]);

  const put = async (person: Person, role: ProjectRole, done: string) => {
    try {
      await call('PUT', `/api/projects/${project.id}/members/${person.id}/`, { body: { role } });
      await load();
      say(done);
    } catch (failure) {
      say(`Could not change ${displayName(person)}’s role: ${messageOf(failure)}`, true);
    }
  };
  const remove = async (member: ProjectMember) => {
    setRemoving(undefined);
    try {
      await call('DELETE', `/api/projects/${project.id}/members/${member.user.id}/`);
      await load();
      say(`${displayName(member.user)} was removed from ${project.name}.`);
    } catch (failure) {
      say(`Could not remove ${displayName(member.user)}: ${messageOf(failure)}`, true);
    }
  };

  const memberIds = new Set((members ?? []).map((member) => member.user.id));
  const candidates = company.filter((person) => !memberIds.has(person.id));
  const add = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const person = candidates.find((each) => String(each.id) === form.get('user'));
    if (person === undefined) return;
    void put(person, form.get('role') as ProjectRole, `${displayName(person)} was added to ${project.name}.`);
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Members and roles</h2>
      <p className="muted">
        {project.is_private
          ? 'Only these people (and the company’s admins, who manage every project) see this project.'
          : 'Everyone in the company except guests works here as a member; these people have the role given here.'}
      </p>
      <div className="table-scroll">
        <table className="data">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(members ?? []).map((member) => (
              <tr key={member.user.id} data-user={member.user.username}>
                <th scope="row">
                  {displayName(member.user)}
                  {member.user.id === user.id ? <span className="you"> (you)</span> : null}
                  <span className="username">{member.user.username}</span>
                </th>
                <td>
                  <select
                    aria-label={`Project role of ${displayName(member.user)}`}
                    value={member.role}
                    disabled={readOnly}
                    onChange={(event) => {
                      const role = event.target.value as ProjectRole;
                      void put(
                        member.user,
                        role,
                        `${displayName(member.user)} is now ${ROLE_LABELS[role].toLowerCase()}.`,
                      );
                    }}
                  >
                    {PROJECT_ROLES.map((role) => (
                      <option key={role} value={role}>
                        {ROLE_LABELS[role]}
                      </option>
                    ))}
                  </select>
                </td>
                <td className="row-actions">
                  <button
                    type="button"
                    className="danger quiet"
                    aria-label={`Remove ${displayName(member.user)} from the project`}
                    disabled={readOnly}
                    onClick={() => setRemoving(member)}
                  >
                    Remove…
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {readOnly || !workspace.seesCompany ? null : (
        <form className="invite-form" onSubmit={add} noValidate>
          <div className="row">
            <Field label="Add a person">
              {(props) => (
                <select {...props} name="user" defaultValue="">
                  <option value="" disabled>
                    {candidates.length === 0 ? 'Everyone is a member' : 'Choose someone…'}
                  </option>
                  {candidates.map((person) => (
                    <option key={person.id} value={String(person.id)}>
                      {displayName(person)} ({person.username})
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="With the role">
              {(props) => (
                <select {...props} name="role" defaultValue="member">
                  {PROJECT_ROLES.map((role) => (
                    <option key={role} value={role}>
                      {ROLE_LABELS[role]}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <div className="field submit">
              <button type="submit" className="primary">
                Add member
              </button>
            </div>
          </div>
        </form>
      )}
      {removing === undefined ? null : (
        <ConfirmDialog
          title={`Remove ${displayName(removing.user)} from ${project.name}?`}
          message={
            project.is_private
              ? `${displayName(removing.user)} stops seeing this project and its tasks at once.`
              : `${displayName(removing.user)} loses the role given here.`
          }
          confirmLabel="Remove"
          onConfirm={() => void remove(removing)}
          onClose={() => setRemoving(undefined)}
        />
      )}
    </section>
  );
}

function StatusRow({
  status,
  index,
  count,
  readOnly,
  onChange,
  onMove,
  onDelete,
  dragProps,
  dropHere,
}: {
  status: WorkflowStatus;
  index: number;
  count: number;
  readOnly: boolean;
  onChange: (status: WorkflowStatus, body: Partial<WorkflowStatus>, done: string) => Promise<boolean>;
  onMove: (status: WorkflowStatus, position: number) => void;
  onDelete: (status: WorkflowStatus) => void;
  dragProps: object;
  /** A dragged row is over this one. */
  dropHere: boolean;
}) {
  const [name, setName] = useState(status.name);
  const [color, setColor] = useState(status.color);
  useEffect(() => setName(status.name), [status.name]);
  useEffect(() => setColor(status.color), [status.color]);
  const changed = name.trim() !== status.name || color !== status.color;
  const save = (event: FormEvent) => {
    event.preventDefault();
    void onChange(status, { name: name.trim(), color }, `Status “${name.trim()}” saved.`);
  };
  return (
    <li
      className={`status-row category-${status.category}${dropHere ? ' drop' : ''}`}
      data-status-id={status.id}
      {...dragProps}
    >
      <span className="drag-handle" aria-hidden="true">
        ⋮⋮
      </span>
      <form className="status-form" onSubmit={save} noValidate>
        <input
          aria-label={`Name of the status ${status.name}`}
          value={name}
          maxLength={50}
          disabled={readOnly}
          onChange={(event) => setName(event.target.value)}
        />
        <input
          type="color"
          aria-label={`Colour of the status ${status.name}`}
          value={color}
          disabled={readOnly}
          onChange={(event) => setColor(event.target.value)}
        />
        <select
          aria-label={`Category of the status ${status.name}`}
          value={status.category}
          disabled={readOnly}
          onChange={(event) =>
            void onChange(
              status,
              { category: event.target.value as WorkflowStatus['category'] },
              `“${status.name}” now counts as ${STATUS_LABELS[event.target.value as WorkflowStatus['category']].toLowerCase()}.`,
            )
          }
        >
          {CATEGORIES.map((category) => (
            <option key={category} value={category}>
              {STATUS_LABELS[category]}
            </option>
          ))}
        </select>
        <button type="submit" disabled={readOnly || !changed} aria-label={`Save the status ${status.name}`}>
          Save
        </button>
      </form>
      <button
        type="button"
        className="quiet"
        aria-label={`Move ${status.name} up`}
        disabled={readOnly || index === 0}
        onClick={() => onMove(status, index - 1)}
      >
        ↑
      </button>
      <button
        type="button"
        className="quiet"
        aria-label={`Move ${status.name} down`}
        disabled={readOnly || index === count - 1}
        onClick={() => onMove(status, index + 1)}
      >
        ↓
      </button>
      <button
        type="button"
        className="danger quiet"
        aria-label={`Delete the status ${status.name}`}
        disabled={readOnly}
        onClick={() => onDelete(status)}
      >
        Delete…
      </button>
    </li>
  );
}

/** Deleting a status: its tasks (if any) go to another one the manager chooses. */
function DeleteStatusDialog({
  status,
  statuses,
  onConfirm,
  onClose,
}: {
  status: WorkflowStatus;
  statuses: WorkflowStatus[];
  onConfirm: (moveTo: number) => void;
  onClose: () => void;
}) {
  const others = statuses.filter((each) => each.id !== status.id);
  const alike = others.find((each) => each.category === status.category) ?? others[0];
  const [moveTo, setMoveTo] = useState(String(alike?.id ?? ''));
  return (
    <Modal title={`Delete the status ${status.name}?`} onClose={onClose} className="confirm">
      <Field label="Move its tasks to">
        {(props) => (
          <select {...props} value={moveTo} onChange={(event) => setMoveTo(event.target.value)}>
            {others.map((each) => (
              <option key={each.id} value={String(each.id)}>
                {each.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <div className="actions">
        {/* biome-ignore lint/a11y/noAutofocus: a modal's first focus belongs on its safe action */}
        <button type="button" onClick={onClose} autoFocus>
          Cancel
        </button>
        <button type="button" className="danger" onClick={() => onConfirm(Number(moveTo))}>
          Delete
        </button>
      </div>
    </Modal>
  );
}

function StatusesSection({ project, say }: { project: Project; say: Say }) {
  const { statuses, reload } = useStatuses(project.id);
  const [deleting, setDeleting] = useState<WorkflowStatus | undefined>();
  const [dragged, setDragged] = useState<number | undefined>();
  const [over, setOver] = useState<number | undefined>();
  const { errors, pending, run } = useSubmit();
  const headingId = useId();
  const readOnly = project.archived;
  const base = `/api/projects/${project.id}/statuses/`;

  const change = async (status: WorkflowStatus, body: Partial<WorkflowStatus>, done: string) => {
    try {
      await call('PATCH', `${base}${status.id}/`, { body });
      say(done);
      return true;
    } catch (failure) {
      say(`Could not change “${status.name}”: ${messageOf(failure)}`, true);
      return false;
    } finally {
      reload();
    }
  };
  const moveTo = (status: WorkflowStatus, position: number) =>
    void change(status, { position }, `“${status.name}” moved to place ${position + 1}.`);

  const remove = async (status: WorkflowStatus, target: number) => {
    setDeleting(undefined);
    try {
      await call('DELETE', `${base}${status.id}/?move_to=${target}`);
      say(`The status “${status.name}” was deleted.`);
    } catch (failure) {
      say(`Could not delete “${status.name}”: ${messageOf(failure)}`, true);
    } finally {
      reload();
    }
  };

  const add = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const category = String(data.get('category')) as WorkflowStatus['category'];
    const name = String(data.get('name') ?? '').trim();
    // Where it goes depends on the statuses there are: none is added before they are known.
    if (statuses === undefined) return;
    const list = statuses;
    // A status of work not yet done goes before the done ones, where it belongs on the board.
    const firstDone = list.findIndex((each) => each.category === 'done');
    const position = category === 'done' || firstDone < 0 ? list.length : firstDone;
    void run(async () => {
      await call('POST', base, { body: { name, category, position } });
      form.reset();
      reload();
      say(`The status “${name}” was added.`);
    });
  };

  const dragPropsOf = (status: WorkflowStatus, index: number) =>
    readOnly
      ? {}
      : {
          draggable: true,
          onDragStart: (event: DragEvent) => {
            event.dataTransfer.setData('text/plain', String(status.id));
            event.dataTransfer.effectAllowed = 'move';
            setDragged(status.id);
          },
          onDragEnd: () => {
            setDragged(undefined);
            setOver(undefined);
          },
          onDragOver: (event: DragEvent) => {
            event.preventDefault();
            setOver(index);
          },
          onDrop: (event: DragEvent) => {
            event.preventDefault();
            const moved = statuses?.find((each) => String(each.id) === event.dataTransfer.getData('text/plain'));
            setDragged(undefined);
            setOver(undefined);
            if (moved !== undefined && moved.position !== index) moveTo(moved, index);
          },
        };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Statuses</h2>
      <p className="muted" id={`${headingId}-help`}>
        The board’s columns, in this order. Drag a row, or use its ↑ ↓ buttons, to reorder. Each status counts as to do,
        in progress or done (done ones complete their tasks).
      </p>
      <ol className="status-list" aria-describedby={`${headingId}-help`}>
        {(statuses ?? []).map((status, index) => (
          <StatusRow
            key={status.id}
            status={status}
            index={index}
            count={statuses?.length ?? 0}
            readOnly={readOnly}
            onChange={change}
            onMove={moveTo}
            onDelete={setDeleting}
            dragProps={dragPropsOf(status, index)}
            dropHere={over === index && dragged !== status.id}
          />
        ))}
      </ol>
      {readOnly ? null : (
        <form className="invite-form" onSubmit={add} noValidate>
          <FormAlert messages={errors.non_field_errors ?? errors.detail} />
          <div className="row">
            <TextField label="New status" name="name" maxLength={50} required errors={errors.name} />
            <Field label="Counts as" errors={errors.category}>
              {(props) => (
                <select {...props} name="category" defaultValue="in_progress">
                  {CATEGORIES.map((category) => (
                    <option key={category} value={category}>
                      {STATUS_LABELS[category]}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <div className="field submit">
              <button type="submit" className="primary" disabled={pending || statuses === undefined}>
                Add status
              </button>
            </div>
          </div>
        </form>
      )}
      {deleting === undefined || statuses === undefined ? null : (
        <DeleteStatusDialog
          status={deleting}
          statuses={statuses}
          onConfirm={(target) => void remove(deleting, target)}
          onClose={() => setDeleting(undefined)}
        />
      )}
    </section>
  );
}

/** A project's settings, for its managers: details, archiving, members and roles, workflow statuses. */
export function ProjectSettings({ project, workspace, user }: { project: Project; workspace: Workspace; user: User }) {
  const [notice, setNotice] = useState<{ message: string; failed: boolean } | undefined>();
  const say = useCallback<Say>((message, failed = false) => setNotice({ message, failed }), []);
  return (
    <main id="main" tabIndex={-1} className="page project-settings">
      <div className="page-head">
        <PageTitle>{project.name} settings</PageTitle>
        <p>
          <Link to={boardPath(project)}>Back to the board</Link>
          {project.archived ? ' · Archived: read only until restored.' : ''}
        </p>
      </div>
      {project.my_role !== 'manager' ? (
        <p className="alert" role="alert">
          Only the project’s managers change its settings.
        </p>
      ) : (
        <>
          {notice?.failed ? (
            <div className="alert" role="alert">
              {notice.message}
            </div>
          ) : null}
          <output className="notice" aria-live="polite" hidden={notice === undefined || notice.failed}>
            {notice?.failed ? '' : notice?.message}
          </output>
          <DetailsForm project={project} workspace={workspace} say={say} />
          <MembersSection project={project} workspace={workspace} user={user} say={say} />
          <StatusesSection project={project} say={say} />
        </>
      )}
    </main>
  );
}
