import { type KeyboardEvent, type ReactNode, useEffect, useId, useState } from 'react';
import { call, get, getAll, type Page, type Task, type WorkflowStatus } from './api.ts';
import { errorsOf, FieldMessages, FormAlert } from './forms.tsx';
import { stateName, taskPath, useTasksById } from './relations.ts';
import { Link } from './Shell.tsx';

/** Typing is asked about once it pauses this long. */
const PICKER_DELAY_MS = 250;
const REF = /^[a-z][a-z0-9]*-\d+$/i;

const newKey = () =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(36).slice(2)}`;

/** Enter in an input of the dialog's form does this instead of saving the form. */
const onEnter = (action: () => void) => (event: KeyboardEvent) => {
  if (event.key !== 'Enter') return;
  event.preventDefault();
  action();
};

export interface TaskRelationsProps {
  /** The newest version of the task the dialog has. */
  task: Task;
  /** The board's statuses, to name the states of its project's tasks. */
  statuses: WorkflowStatus[];
  /** The board's tasks, kept live: their states are current where a read one's may not be. */
  board: Map<number, Task>;
  readOnly: boolean;
  /** Writes this task's own blocked_by, resolving to its new version. */
  onWriteSelf: (body: { blocked_by: number[] }) => Promise<Task>;
  /** Another task was written here (a new subtask, one this task now blocks): this one changed with it. */
  onWroteOther: (other: Task) => Promise<void>;
}

/**
 * A task's parent, what it waits for ("Blocked by"), what waits for it ("Blocking") and its
 * subtasks. Each change is written at once, apart from the dialog's Save: a list of tasks is not
 * a draft field, and the other end of a dependency is another task.
 */
export function TaskRelations({ task, statuses, board, readOnly, onWriteSelf, onWroteOther }: TaskRelationsProps) {
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  const [subtasks, setSubtasks] = useState<Task[] | undefined>();
  const read = useTasksById([...task.blocked_by, ...task.blocking, ...(task.parent === null ? [] : [task.parent])]);
  // The board's copy is followed live; a task of another project is as read.
  const lookup = (id: number) => board.get(id) ?? read.get(id);
  const { total, done } = task.subtasks;

  // biome-ignore lint/correctness/useExhaustiveDependencies: the counts say when the list changed
  useEffect(() => {
    let cancelled = false;
    getAll<Task>(`/api/tasks/?parent=${task.id}&ordering=created_at`)
      .then(({ items }) => {
        if (!cancelled) setSubtasks(items);
      })
      .catch((error: unknown) => {
        if (!cancelled) setErrors(errorsOf(error));
      });
    return () => {
      cancelled = true;
    };
  }, [task.id, total, done]);

  /** `list`: where the server's words about a blocked_by go (the other task's, for Blocking). */
  const run = async (work: () => Promise<unknown>, list: 'blocked_by' | 'blocking' = 'blocked_by') => {
    setBusy(true);
    setErrors({});
    try {
      await work();
      return true;
    } catch (error) {
      const { blocked_by, ...rest } = errorsOf(error);
      setErrors(blocked_by === undefined ? rest : { ...rest, [list]: blocked_by });
      return false;
    } finally {
      setBusy(false);
    }
  };

  const setBlockedBy = (ids: number[]) =>
    run(() => onWriteSelf({ blocked_by: [...new Set(ids)].sort((a, b) => a - b) }));

  /** The other task's blocked_by, written against the version just read, so a change made meanwhile is not lost. */
  const setBlocking = (other: Task, on: boolean) =>
    run(async () => {
      const { data: fresh, headers } = await call<Task>('GET', `/api/tasks/${other.id}/`);
      const ids = on ? [...fresh.blocked_by, task.id] : fresh.blocked_by.filter((id) => id !== task.id);
      const { data } = await call<Task>('PATCH', `/api/tasks/${other.id}/`, {
        body: { blocked_by: [...new Set(ids)].sort((a, b) => a - b) },
        headers: { 'if-match': headers.get('etag') ?? '*' },
      });
      await onWroteOther(data);
    }, 'blocking');

  const addSubtask = (title: string) =>
    run(async () => {
      const { data } = await call<Task>('POST', '/api/tasks/', {
        body: { title, parent: task.id, project: task.project },
        headers: { 'idempotency-key': newKey() },
      });
      setSubtasks((current) => [...(current ?? []), data]);
      await onWroteOther(data);
    });

  const entry = (other: Task) => (
    <>
      <Link to={taskPath(other.ref)} className="task-link">
        <span className="ref">{other.ref}</span> {other.title}
      </Link>{' '}
      <span className={`state-tag category-${other.status}`}>
        {stateName(other, other.project === task.project ? statuses : undefined)}
      </span>
    </>
  );

  const parent = task.parent === null ? undefined : lookup(task.parent);
  return (
    <section className="relations" aria-label="Dependencies and subtasks">
      {task.parent === null ? null : (
        <p className="parent-link">Subtask of {parent === undefined ? '…' : entry(parent)}</p>
      )}
      <FormAlert messages={errors.non_field_errors ?? errors.detail ?? errors.parent ?? errors.title} />
      <TaskList
        title="Blocked by"
        ids={task.blocked_by}
        lookup={lookup}
        entry={entry}
        readOnly={readOnly}
        busy={busy}
        empty="Waits for nothing."
        onRemove={(other) => void setBlockedBy(task.blocked_by.filter((id) => id !== other.id))}
        onAdd={(other) => setBlockedBy([...task.blocked_by, other.id])}
        exclude={[task.id, ...task.blocked_by]}
        errors={errors.blocked_by}
      />
      <TaskList
        title="Blocking"
        ids={task.blocking}
        lookup={lookup}
        entry={entry}
        readOnly={readOnly}
        busy={busy}
        empty="Nothing waits for it."
        onRemove={(other) => void setBlocking(other, false)}
        onAdd={(other) => setBlocking(other, true)}
        exclude={[task.id, ...task.blocking]}
        errors={errors.blocking}
      />
      <section className="relation-list" aria-labelledby={`subtasks-${task.id}`}>
        <h3 id={`subtasks-${task.id}`}>
          Subtasks{' '}
          {total === 0 ? null : (
            <span className="count">
              {done} of {total} done
            </span>
          )}
        </h3>
        {total === 0 ? null : <SubtaskProgress done={done} total={total} />}
        {subtasks === undefined || subtasks.length === 0 ? (
          <p className="muted">{subtasks === undefined && total > 0 ? 'Loading…' : 'No subtasks.'}</p>
        ) : (
          <ul>
            {subtasks.map((subtask) => (
              <li key={subtask.id}>{entry(board.get(subtask.id) ?? subtask)}</li>
            ))}
          </ul>
        )}
        {readOnly ? null : <SubtaskAdder busy={busy} onAdd={addSubtask} />}
      </section>
    </section>
  );
}

/** A subtask count as a bar: on cards and in the dialog. */
export function SubtaskProgress({ done, total }: { done: number; total: number }) {
  return (
    <progress className="subtask-progress" value={done} max={total} aria-label={`Subtasks: ${done} of ${total} done`} />
  );
}

function TaskList({
  title,
  ids,
  lookup,
  entry,
  readOnly,
  busy,
  empty,
  onRemove,
  onAdd,
  exclude,
  errors,
}: {
  title: string;
  ids: number[];
  lookup: (id: number) => Task | undefined;
  entry: (task: Task) => ReactNode;
  readOnly: boolean;
  busy: boolean;
  empty: string;
  onRemove: (task: Task) => void;
  onAdd: (task: Task) => Promise<boolean>;
  exclude: number[];
  errors?: string[] | undefined;
}) {
  const headingId = useId();
  return (
    <section className="relation-list" aria-labelledby={headingId}>
      <h3 id={headingId}>{title}</h3>
      {ids.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <ul>
          {ids.map((id) => {
            const other = lookup(id);
            return (
              <li key={id}>
                {other === undefined ? '…' : entry(other)}
                {readOnly || other === undefined ? null : (
                  <button
                    type="button"
                    className="quiet remove"
                    disabled={busy}
                    aria-label={`Remove ${other.ref} from ${title}`}
                    onClick={() => onRemove(other)}
                  >
                    Remove
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <FieldMessages id={`${headingId}-error`} messages={errors} />
      {readOnly ? null : <TaskPicker label={`Add to ${title}`} exclude={exclude} busy={busy} onPick={onAdd} />}
    </section>
  );
}

/**
 * Finds a task by its ref (`WEB-12`, exact) or by words of its title (the API's full-text
 * search); the matches are buttons, so Tab reaches them and Enter adds one.
 */
function TaskPicker({
  label,
  exclude,
  busy,
  onPick,
}: {
  label: string;
  exclude: number[];
  busy: boolean;
  onPick: (task: Task) => Promise<boolean>;
}) {
  const [text, setText] = useState('');
  const [found, setFound] = useState<Task[] | undefined>();
  const inputId = useId();
  const query = text.trim();
  useEffect(() => {
    if (query === '') {
      setFound(undefined);
      return;
    }
    let cancelled = false;
    const timer = window.setTimeout(() => {
      const byRef = REF.test(query)
        ? get<Page<Task>>(`/api/tasks/?ref=${encodeURIComponent(query)}`)
        : Promise.resolve(undefined);
      const byWords = get<Page<Task>>(`/api/tasks/?search=${encodeURIComponent(query)}&page_size=8`);
      Promise.all([byRef, byWords])
        .then(([ref, words]) => {
          if (cancelled) return;
          const all = [...(ref?.results ?? []), ...words.results];
          setFound(all.filter((task, index) => all.findIndex((each) => each.id === task.id) === index));
        })
        .catch(() => {
          if (!cancelled) setFound([]);
        });
    }, PICKER_DELAY_MS);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [query]);

  const matches = found?.filter((task) => !exclude.includes(task.id));
  const pick = async (task: Task) => {
    if (await onPick(task)) setText('');
  };
  return (
    <div className="task-picker">
      <label htmlFor={inputId} className="visually-hidden">
        {label}: a ref or words to search
      </label>
      <input
        id={inputId}
        type="search"
        placeholder="A ref (WEB-12) or words to search"
        value={text}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onEnter(() => {
          const [first] = matches ?? [];
          if (first !== undefined && matches?.length === 1) void pick(first);
        })}
      />
      {matches === undefined ? null : (
        <div aria-live="polite">
          {matches.length === 0 ? (
            <p className="muted">No task matches.</p>
          ) : (
            <ul className="picker-results" aria-label={`${label}: matches`}>
              {matches.map((task) => (
                <li key={task.id}>
                  <button type="button" className="picker-choice" disabled={busy} onClick={() => void pick(task)}>
                    <span className="ref">{task.ref}</span> {task.title}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

function SubtaskAdder({ busy, onAdd }: { busy: boolean; onAdd: (title: string) => Promise<boolean> }) {
  const [title, setTitle] = useState('');
  const inputId = useId();
  const add = async () => {
    if (title.trim() === '') return;
    if (await onAdd(title.trim())) setTitle('');
  };
  return (
    <div className="subtask-adder">
      <label htmlFor={inputId} className="visually-hidden">
        New subtask
      </label>
      <input
        id={inputId}
        className="subtask-title"
        placeholder="New subtask"
        maxLength={200}
        value={title}
        onChange={(event) => setTitle(event.target.value)}
        onKeyDown={onEnter(() => void add())}
      />
      <button type="button" disabled={busy || title.trim() === ''} onClick={() => void add()}>
        Add subtask
      </button>
    </div>
  );
}
