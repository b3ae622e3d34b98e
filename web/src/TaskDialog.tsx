import { type FormEvent, useEffect, useRef, useState } from 'react';
import {
  ApiError,
  call,
  displayName,
  get,
  type Label,
  type Person,
  PRIORITIES,
  type Priority,
  type Project,
  type Task,
  type TaskFields,
  type User,
  type WorkflowStatus,
} from './api.ts';
import type { SubscribeComments } from './Comments.tsx';
import { errorsOf, Field, FieldMessages, FormAlert } from './forms.tsx';
import { PRIORITY_LABELS, STATUS_LABELS } from './labels.ts';
import { Modal } from './Modal.tsx';
import { TaskActivity } from './TaskActivity.tsx';
import { TaskCollaboration, WatchToggle } from './TaskCollaboration.tsx';
import { TaskRelations } from './TaskRelations.tsx';

/** A datetime-local input's value (local time, minutes) for an instant, and back. */
function toLocalInput(iso: string | null): string {
  if (iso === null) return '';
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}
const fromLocalInput = (value: string) => (value === '' ? null : new Date(value).toISOString());

interface Draft {
  title: string;
  description: string;
  /** A status id of the project: the state sets the version 1 status (its category) too. */
  state: string;
  priority: Priority;
  due: string;
  assignee: string;
  labels: number[];
}

type Editable = Omit<TaskFields, 'status'>;

const draftOf = (task: Editable): Draft => ({
  title: task.title,
  description: task.description,
  state: String(task.state),
  priority: task.priority,
  due: toLocalInput(task.due_date),
  assignee: task.assigned_to === null ? '' : String(task.assigned_to),
  labels: task.labels,
});

const fieldsOf = (draft: Draft): Editable => ({
  title: draft.title.trim(),
  description: draft.description,
  state: Number(draft.state),
  priority: draft.priority,
  due_date: fromLocalInput(draft.due),
  assigned_to: draft.assignee === '' ? null : Number(draft.assignee),
  labels: draft.labels,
});

/** Whether two versions differ only in what the form does not edit (dependencies, subtask counts). */
const sameEditable = (a: Editable, b: Editable) => JSON.stringify(draftOf(a)) === JSON.stringify(draftOf(b));

/** A new task starts in the project's first status. */
const newTask = (statuses: WorkflowStatus[]): Editable => ({
  title: '',
  description: '',
  state: statuses[0]?.id ?? 0,
  priority: 'medium',
  due_date: null,
  assigned_to: null,
  labels: [],
});

const newKey = () =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(36).slice(2)}`;

export interface TaskDialogProps {
  /** The task to edit, as the board has it now (live events keep it current); none to create one. */
  task: Task | undefined;
  /** The board's project: where a new task goes, whose statuses it moves through. */
  project: Project;
  statuses: WorkflowStatus[];
  labels: Label[];
  /** The projects the user sees, for the names in the task's history. */
  projects: Project[];
  /** An archived project, or a viewer: the task is shown, not changed. */
  readOnly: boolean;
  users: Person[];
  /** The board's tasks, live: the states shown beside dependencies and subtasks. */
  board: Map<number, Task>;
  user: User;
  /** Whether the user may read the company's people (guests may not). */
  seesCompany: boolean;
  /** The board's live comment events. */
  subscribeComments: SubscribeComments;
  onSaved: (task: Task) => void;
  /** This task was changed from the dialog (its dependencies), which stays open. */
  onUpdated: (task: Task) => void;
  /** Another task was written from the dialog (a subtask, one this task blocks). */
  onSavedOther: (task: Task) => void;
  /** Told while a change to an existing task is on its way, so its echo over the socket is not news. */
  onWriting: (id: number, writing: boolean) => void;
  onDelete: (task: Task) => void;
  onClose: () => void;
}

export function TaskDialog({
  task,
  project,
  statuses,
  labels,
  projects,
  readOnly,
  users,
  board,
  user,
  seesCompany,
  subscribeComments,
  onSaved,
  onUpdated,
  onSavedOther,
  onWriting,
  onDelete,
  onClose,
}: TaskDialogProps) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(task ?? newTask(statuses)));
  // Typing may start before the fresh copy arrives: then the typing wins.
  const touched = useRef(false);
  // The version this edit started from: saving sends its ETag, so a change made meanwhile is not overwritten.
  const [base, setBase] = useState<{ task: Task; etag: string } | undefined>();
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [conflict, setConflict] = useState(false);
  const [pending, setPending] = useState(false);
  /** From the dialog's own read of the task (the board's copies come from events, which say false). */
  const [watching, setWatching] = useState<boolean | undefined>();
  // One key per dialog: a retried create (a lost answer, a double click) makes one task.
  const [idempotencyKey] = useState(newKey);
  const taskId = task?.id;

  useEffect(() => {
    if (taskId === undefined) return;
    let cancelled = false;
    call<Task>('GET', `/api/tasks/${taskId}/`)
      .then(({ data, headers }) => {
        if (cancelled) return;
        setBase({ task: data, etag: headers.get('etag') ?? '' });
        setWatching(data.is_watching);
        if (!touched.current) setDraft(draftOf(data));
      })
      .catch((error: unknown) => {
        if (!cancelled) setErrors(errorsOf(error));
      });
    return () => {
      cancelled = true;
    };
  }, [taskId]);

  const newer = task !== undefined && base !== undefined && task.updated_at > base.task.updated_at;
  const changedElsewhere = newer && !sameEditable(task, base.task);

  /**
   * The version to save against, read again when only what the form does not edit has changed
   * (a dependency, a subtask): that is no conflict with what is being typed.
   */
  const rebase = async (id: number, from: Task) => {
    const { data, headers } = await call<Task>('GET', `/api/tasks/${id}/`);
    if (sameEditable(data, from)) setBase({ task: data, etag: headers.get('etag') ?? '' });
    return data;
  };
  const baseTask = base?.task;
  // biome-ignore lint/correctness/useExhaustiveDependencies: rebase is this render's, and only `newer` says when
  useEffect(() => {
    if (taskId === undefined || baseTask === undefined || !newer || changedElsewhere) return;
    rebase(taskId, baseTask).catch(() => undefined);
  }, [taskId, baseTask, newer, changedElsewhere]);

  const writeSelf = async (body: { blocked_by: number[] }) => {
    if (task === undefined) throw new Error('The task is not created yet.');
    onWriting(task.id, true);
    try {
      const answer = await call<Task>('PATCH', `/api/tasks/${task.id}/`, {
        body,
        headers: base === undefined ? {} : { 'if-match': base.etag },
      });
      setBase({ task: answer.data, etag: answer.headers.get('etag') ?? '' });
      onUpdated(answer.data);
      return answer.data;
    } finally {
      onWriting(task.id, false);
    }
  };

  const wroteOther = async (other: Task) => {
    onSavedOther(other);
    if (task === undefined || base === undefined) return;
    onUpdated(await rebase(task.id, base.task));
  };
  /** Read again after what changes its counts, not its fields (files). */
  const reread = async () => {
    if (task !== undefined) onUpdated(await get<Task>(`/api/tasks/${task.id}/`));
  };

  // The newest version at hand: the board's follows events, the dialog's own follows its writes.
  const current =
    task === undefined || (base !== undefined && base.task.updated_at > task.updated_at) ? base?.task : task;

  const takeTheirs = () => {
    if (task === undefined) return;
    setConflict(false);
    setErrors({});
    setBase(undefined);
    touched.current = false;
    setDraft(draftOf(task));
    call<Task>('GET', `/api/tasks/${task.id}/`)
      .then(({ data, headers }) => {
        setBase({ task: data, etag: headers.get('etag') ?? '' });
        setDraft(draftOf(data));
      })
      .catch((error: unknown) => setErrors(errorsOf(error)));
  };

  const save = async (overwrite: boolean) => {
    setPending(true);
    setErrors({});
    if (task !== undefined) onWriting(task.id, true);
    try {
      const body = fieldsOf(draft);
      const answer =
        task === undefined
          ? await call<Task>('POST', '/api/tasks/', {
              body: { ...body, project: project.id },
              headers: { 'idempotency-key': idempotencyKey },
            })
          : await call<Task>('PATCH', `/api/tasks/${task.id}/`, {
              body,
              headers: overwrite || base === undefined ? {} : { 'if-match': base.etag },
            });
      onSaved(answer.data);
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) setConflict(true);
      else setErrors(errorsOf(error));
      setPending(false);
    } finally {
      if (task !== undefined) onWriting(task.id, false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save(false);
  };
  const set =
    <K extends keyof Draft>(key: K) =>
    (value: Draft[K]) => {
      touched.current = true;
      setDraft((current) => ({ ...current, [key]: value }));
    };

  const toggleLabel = (id: number, on: boolean) =>
    set('labels')(on ? [...draft.labels, id].sort((a, b) => a - b) : draft.labels.filter((each) => each !== id));

  return (
    <Modal
      title={task === undefined ? 'New task' : readOnly ? `Task ${task.ref}` : 'Edit task'}
      onClose={onClose}
      className={`task-dialog${task === undefined ? '' : ' with-activity'}`}
    >
      <div className="task-dialog-body">
        <div className="task-main">
          <form onSubmit={submit} noValidate>
            {task === undefined ? null : (
              <p className="task-ref">
                <span className="project-key">{task.ref}</span> in {project.name}
                {readOnly ? ' · read only' : ''}
                <WatchToggle task={task} watching={watching} disabled={project.archived} onChange={setWatching} />
              </p>
            )}
            <fieldset className="plain" disabled={readOnly}>
              {conflict || changedElsewhere ? (
                <div className="alert warning" role="alert">
                  <p>
                    {conflict
                      ? 'Someone else changed this task after you opened it, so it was not saved.'
                      : 'Someone else has just changed this task.'}
                  </p>
                  <div className="actions">
                    <button type="button" onClick={takeTheirs}>
                      Load their version
                    </button>
                    {conflict ? (
                      <button type="button" className="danger" onClick={() => void save(true)}>
                        Save mine over it
                      </button>
                    ) : null}
                  </div>
                </div>
              ) : null}
              <FormAlert messages={errors.non_field_errors ?? errors.detail} />
              <Field label="Title" errors={errors.title}>
                {(props) => (
                  <input
                    {...props}
                    name="title"
                    required
                    maxLength={200}
                    value={draft.title}
                    onChange={(event) => set('title')(event.target.value)}
                    // biome-ignore lint/a11y/noAutofocus: the dialog opens to type a title
                    autoFocus
                  />
                )}
              </Field>
              <Field label="Description" errors={errors.description}>
                {(props) => (
                  <textarea
                    {...props}
                    name="description"
                    rows={task === undefined ? 4 : 7}
                    maxLength={10_000}
                    value={draft.description}
                    onChange={(event) => set('description')(event.target.value)}
                  />
                )}
              </Field>
              <div className="row">
                <Field label="Status" errors={errors.state ?? errors.status}>
                  {(props) => (
                    <select {...props} value={draft.state} onChange={(event) => set('state')(event.target.value)}>
                      {statuses.map((status) => (
                        <option key={status.id} value={String(status.id)}>
                          {status.name}
                          {status.name.toLowerCase() === STATUS_LABELS[status.category].toLowerCase()
                            ? ''
                            : ` (${STATUS_LABELS[status.category]})`}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                <Field label="Priority" errors={errors.priority}>
                  {(props) => (
                    <select
                      {...props}
                      value={draft.priority}
                      onChange={(event) => set('priority')(event.target.value as Priority)}
                    >
                      {PRIORITIES.map((priority) => (
                        <option key={priority} value={priority}>
                          {PRIORITY_LABELS[priority]}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
              </div>
              <div className="row">
                <Field label="Assignee" errors={errors.assigned_to}>
                  {(props) => (
                    <select {...props} value={draft.assignee} onChange={(event) => set('assignee')(event.target.value)}>
                      <option value="">Unassigned</option>
                      {users.map((user) => (
                        <option key={user.id} value={String(user.id)}>
                          {displayName(user)}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                <Field label="Due" errors={errors.due_date}>
                  {(props) => (
                    <input
                      {...props}
                      type="datetime-local"
                      value={draft.due}
                      onChange={(event) => set('due')(event.target.value)}
                    />
                  )}
                </Field>
              </div>
              {labels.length === 0 ? null : (
                <fieldset className="label-choices">
                  <legend>Labels</legend>
                  {labels.map((label) => (
                    <label key={label.id} className="chip choice" style={{ borderColor: label.color }}>
                      <input
                        type="checkbox"
                        checked={draft.labels.includes(label.id)}
                        onChange={(event) => toggleLabel(label.id, event.target.checked)}
                      />
                      <span className="chip-dot" style={{ background: label.color }} aria-hidden="true" />
                      {label.name}
                    </label>
                  ))}
                  <FieldMessages id={`labels-error-${task?.id ?? 'new'}`} messages={errors.labels} />
                </fieldset>
              )}
            </fieldset>
            {current === undefined ? null : (
              <TaskRelations
                task={current}
                statuses={statuses}
                board={board}
                readOnly={readOnly}
                onWriteSelf={writeSelf}
                onWroteOther={wroteOther}
              />
            )}
            <div className="actions">
              {task === undefined || readOnly ? null : (
                <button type="button" className="danger quiet" onClick={() => onDelete(task)}>
                  Delete…
                </button>
              )}
              <span className="spacer" />
              <button type="button" onClick={onClose}>
                {readOnly ? 'Close' : 'Cancel'}
              </button>
              {readOnly ? null : (
                <button
                  type="submit"
                  className="primary"
                  disabled={pending || (task !== undefined && base === undefined)}
                >
                  {pending ? 'Saving…' : task === undefined ? 'Create task' : 'Save'}
                </button>
              )}
            </div>
          </form>
          {current === undefined ? null : (
            <TaskCollaboration
              task={current}
              user={user}
              project={project}
              seesCompany={seesCompany}
              readOnly={readOnly}
              subscribeComments={subscribeComments}
              onTaskChanged={reread}
              onCommented={() => setWatching(true)}
            />
          )}
        </div>
        {task === undefined ? null : <TaskActivity task={task} users={users} words={{ statuses, labels, projects }} />}
      </div>
    </Modal>
  );
}
