import {
  type DragEvent,
  type KeyboardEvent,
  useCallback,
  useEffect,
  useMemo,
  useReducer,
  useRef,
  useState,
} from 'react';
import {
  call,
  displayName,
  getAll,
  PRIORITIES,
  type Priority,
  STATUSES,
  type Status,
  type Task,
  type User,
} from './api.ts';
import { LiveConnection, type LiveStatus, type TaskEvent } from './live.ts';
import { ConfirmDialog } from './Modal.tsx';
import { navigate, useLocation } from './router.ts';
import { PRIORITY_LABELS, STATUS_LABELS, TaskDialog } from './TaskDialog.tsx';

/** How long someone else's change stays highlighted. */
const FLASH_MS = 2_000;
/** Catch-up reaches this far before the last change seen: transactions commit in their own order. */
const CATCH_UP_MARGIN_MS = 5_000;
const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, medium: 2, low: 3 };

interface State {
  tasks: Map<number, Task>;
  /** Ids deleted while the board was open: a late answer or event must not bring them back. */
  deleted: Set<number>;
  flashing: Set<number>;
}

type Action =
  /** `flash`: the ids to highlight, if their version here is new. */
  | { type: 'upsert'; tasks: Task[]; flash?: Set<number> }
  | { type: 'remove'; ids: number[] }
  | { type: 'unflash'; id: number };

function reduce(state: State, action: Action): State {
  switch (action.type) {
    case 'upsert': {
      const tasks = new Map(state.tasks);
      const flashing = new Set(state.flashing);
      for (const task of action.tasks) {
        const known = tasks.get(task.id);
        // Answers and events can arrive out of order: the newest version wins.
        if (state.deleted.has(task.id) || (known !== undefined && known.updated_at > task.updated_at)) continue;
        tasks.set(task.id, task);
        if (action.flash?.has(task.id) && known?.updated_at !== task.updated_at) flashing.add(task.id);
      }
      return { ...state, tasks, flashing };
    }
    case 'remove': {
      const tasks = new Map(state.tasks);
      const deleted = new Set(state.deleted);
      for (const id of action.ids) {
        tasks.delete(id);
        deleted.add(id);
      }
      return { ...state, tasks, deleted };
    }
    case 'unflash': {
      const flashing = new Set(state.flashing);
      flashing.delete(action.id);
      return { ...state, flashing };
    }
  }
}

const emptyBoard = (): State => ({ tasks: new Map(), deleted: new Set(), flashing: new Set() });

interface Filters {
  search: string;
  assignee: string;
  priority: string;
  mine: boolean;
}

function filtersFrom(query: URLSearchParams): Filters {
  return {
    search: query.get('q') ?? '',
    assignee: query.get('assignee') ?? '',
    priority: query.get('priority') ?? '',
    mine: query.get('mine') === '1',
  };
}

/** Filters live in the URL, so a filtered board can be bookmarked, shared and reloaded. */
function urlFor(filters: Filters): string {
  const query = new URLSearchParams();
  if (filters.search !== '') query.set('q', filters.search);
  if (filters.assignee !== '') query.set('assignee', filters.assignee);
  if (filters.priority !== '') query.set('priority', filters.priority);
  if (filters.mine) query.set('mine', '1');
  const text = query.toString();
  return text === '' ? '/' : `/?${text}`;
}

const byBoardOrder = (a: Task, b: Task) =>
  PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
  (a.due_date ?? '9999').localeCompare(b.due_date ?? '9999') ||
  b.id - a.id;

const isOverdue = (task: Task, now: number) =>
  task.status !== 'done' && task.due_date !== null && Date.parse(task.due_date) < now;

const dueLabel = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });

export function Board({ user, onLogOut }: { user: User; onLogOut: () => void }) {
  const { query } = useLocation();
  const filters = filtersFrom(query);
  const [state, dispatch] = useReducer(reduce, undefined, emptyBoard);
  const [users, setUsers] = useState<User[]>([]);
  const [loaded, setLoaded] = useState<{ count: number } | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const [live, setLive] = useState<LiveStatus>('connecting');
  const [notice, setNotice] = useState<string | undefined>();
  const [editing, setEditing] = useState<{ id: number | undefined } | undefined>();
  const [deleting, setDeleting] = useState<Task | undefined>();
  const [dropTarget, setDropTarget] = useState<Status | undefined>();
  const [focusId, setFocusId] = useState<number | undefined>();
  const [searchHits, setSearchHits] = useState<Set<number> | undefined>();
  const syncedUpTo = useRef('');
  // Our own changes are not news when they come back over the socket: those the server has
  // answered, by the updated_at it gave them, and those still on their way.
  const ownWrites = useRef(new Map<number, string>());
  const writing = useRef(new Set<number>());
  const known = useRef(state.tasks);
  known.current = state.tasks;

  const say = useCallback((message: string) => {
    setNotice(message);
    window.setTimeout(() => setNotice((current) => (current === message ? undefined : current)), 5_000);
  }, []);

  const seen = useCallback((tasks: Task[]) => {
    for (const task of tasks) if (task.updated_at > syncedUpTo.current) syncedUpTo.current = task.updated_at;
  }, []);

  const applyOwn = useCallback(
    (task: Task) => {
      ownWrites.current.set(task.id, task.updated_at);
      seen([task]);
      dispatch({ type: 'upsert', tasks: [task] });
    },
    [seen],
  );

  // Full-text search is the server's (the same ranking and syntax as the API); the board keeps its
  // hits as a set of ids, asked again after live changes so new and edited tasks are matched too.
  const searchText = useRef(filters.search);
  searchText.current = filters.search;
  const searchTimer = useRef<number | undefined>(undefined);
  const runSearch = useCallback((text: string) => {
    window.clearTimeout(searchTimer.current);
    if (text.trim() === '') {
      setSearchHits(undefined);
      return;
    }
    searchTimer.current = window.setTimeout(() => {
      getAll<Task>(`/api/tasks/?search=${encodeURIComponent(text)}`)
        .then(({ items }) => {
          // typing moves on while an answer is on its way: only the current text's counts
          if (searchText.current === text) setSearchHits(new Set(items.map((task) => task.id)));
        })
        .catch(() => undefined);
    }, 250);
  }, []);
  useEffect(() => runSearch(filters.search), [filters.search, runSearch]);

  const isMine = useCallback(
    (task: Task) =>
      ownWrites.current.get(task.id) === task.updated_at ||
      writing.current.has(task.id) ||
      // created here and not changed since: the answer to our own create may just not be in yet
      (!known.current.has(task.id) && task.created_by === user.id && task.created_at === task.updated_at),
    [user.id],
  );

  const applyTheirs = useCallback(
    (tasks: Task[]) => {
      const flash = new Set(tasks.filter((task) => !isMine(task)).map((task) => task.id));
      seen(tasks);
      dispatch({ type: 'upsert', tasks, flash });
      for (const id of flash) window.setTimeout(() => dispatch({ type: 'unflash', id }), FLASH_MS);
      if (tasks.length > 0) runSearch(searchText.current);
    },
    [seen, isMine, runSearch],
  );

  useEffect(() => {
    let cancelled = false;
    Promise.all([getAll<User>('/api/auth/company-users/'), getAll<Task>('/api/tasks/?ordering=-updated_at')])
      .then(([people, tasks]) => {
        if (cancelled) return;
        setUsers(people.items);
        seen(tasks.items);
        // An empty board has no updated_at to catch up from: the server's clock at load time is one.
        if (syncedUpTo.current === '' && tasks.date !== '') syncedUpTo.current = new Date(tasks.date).toISOString();
        dispatch({ type: 'upsert', tasks: tasks.items });
        setLoaded({ count: tasks.count });
      })
      .catch((error: unknown) => {
        if (!cancelled) setLoadError(error instanceof Error ? error.message : String(error));
      });
    return () => {
      cancelled = true;
    };
  }, [seen]);

  const catchUp = useCallback(async () => {
    const since = encodeURIComponent(
      new Date(Math.max(0, Date.parse(syncedUpTo.current) - CATCH_UP_MARGIN_MS)).toISOString(),
    );
    const [changed, gone] = await Promise.all([
      getAll<Task>(`/api/tasks/?updated_after=${since}&ordering=updated_at`),
      getAll<{ id: number }>(`/api/tasks/deleted/?since=${since}`),
    ]);
    applyTheirs(changed.items);
    if (gone.items.length > 0) dispatch({ type: 'remove', ids: gone.items.map((task) => task.id) });
  }, [applyTheirs]);

  const onEvent = useCallback(
    (event: TaskEvent) => {
      if (event.type === 'task_deleted') dispatch({ type: 'remove', ids: [event.task.id] });
      else applyTheirs([event.task]);
    },
    [applyTheirs],
  );

  const isLoaded = loaded !== undefined;
  useEffect(() => {
    if (!isLoaded) return;
    const connection = new LiveConnection({ onEvent, onStatus: setLive, catchUp, onRemoved: onLogOut });
    return () => connection.stop();
  }, [isLoaded, onEvent, catchUp, onLogOut]);

  useEffect(() => {
    if (focusId === undefined) return;
    document.querySelector<HTMLElement>(`[data-task-id="${focusId}"] .card-title`)?.focus();
    setFocusId(undefined);
  });

  const editedTask = editing?.id === undefined ? undefined : state.tasks.get(editing.id);
  useEffect(() => {
    if (editing?.id !== undefined && state.deleted.has(editing.id)) {
      setEditing(undefined);
      say('The task you were editing was deleted by someone else.');
    }
  }, [editing, state.deleted, say]);

  const now = Date.now();
  const columns = useMemo(() => {
    const visible = [...state.tasks.values()].filter(
      (task) =>
        (filters.assignee === '' ||
          (filters.assignee === 'none' ? task.assigned_to === null : String(task.assigned_to) === filters.assignee)) &&
        (filters.priority === '' || task.priority === filters.priority) &&
        (!filters.mine || task.assigned_to === user.id) &&
        (searchHits === undefined || searchHits.has(task.id)),
    );
    return STATUSES.map((status) => ({
      status,
      tasks: visible.filter((task) => task.status === status).sort(byBoardOrder),
    }));
  }, [state.tasks, filters.assignee, filters.priority, filters.mine, searchHits, user.id]);

  const usersById = useMemo(() => new Map(users.map((person) => [person.id, person])), [users]);

  // People join after the board loaded: the list is asked again when the dialog opens (to assign
  // them) and when a task names someone not on it (each unknown id once, so a removed user
  // does not cause a request per render).
  const askedAbout = useRef(new Set<number>());
  const reloadUsers = useCallback(() => {
    getAll<User>('/api/auth/company-users/')
      .then(({ items }) => setUsers(items))
      .catch(() => undefined);
  }, []);
  useEffect(() => {
    if (!isLoaded) return;
    let unknown = false;
    for (const task of state.tasks.values()) {
      const id = task.assigned_to;
      if (id !== null && !usersById.has(id) && !askedAbout.current.has(id)) {
        askedAbout.current.add(id);
        unknown = true;
      }
    }
    if (unknown) reloadUsers();
  }, [isLoaded, state.tasks, usersById, reloadUsers]);

  const openEditor = (id: number | undefined) => {
    setEditing({ id });
    reloadUsers();
  };

  const setFilter = (change: Partial<Filters>, replace = false) =>
    navigate(urlFor({ ...filters, ...change }), { replace });

  const move = async (task: Task, status: Status) => {
    if (task.status === status) return;
    // Shown at once; the server's answer (or the old version, if it refuses) follows.
    dispatch({ type: 'upsert', tasks: [{ ...task, status }] });
    writing.current.add(task.id);
    try {
      applyOwn((await call<Task>('PATCH', `/api/tasks/${task.id}/`, { body: { status } })).data);
    } catch (error) {
      dispatch({ type: 'upsert', tasks: [task] });
      say(`Could not move “${task.title}”: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      writing.current.delete(task.id);
    }
  };

  const remove = async (task: Task) => {
    setDeleting(undefined);
    setEditing(undefined);
    try {
      await call('DELETE', `/api/tasks/${task.id}/`);
      dispatch({ type: 'remove', ids: [task.id] });
      say(`Deleted “${task.title}”.`);
    } catch (error) {
      say(`Could not delete “${task.title}”: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const onCardKey = (event: KeyboardEvent, task: Task) => {
    const index = STATUSES.indexOf(task.status);
    if (event.shiftKey && (event.key === 'ArrowRight' || event.key === 'ArrowLeft')) {
      const target = STATUSES[index + (event.key === 'ArrowRight' ? 1 : -1)];
      event.preventDefault();
      if (target === undefined) return;
      setFocusId(task.id);
      void move(task, target);
    } else if (event.key === 'Delete') {
      event.preventDefault();
      setDeleting(task);
    }
  };

  const onDrop = (event: DragEvent, status: Status) => {
    event.preventDefault();
    setDropTarget(undefined);
    const task = state.tasks.get(Number(event.dataTransfer.getData('text/plain')));
    if (task !== undefined) void move(task, status);
  };

  return (
    <div className="app">
      <header className="topbar">
        <div className="title">
          <span className="brand">Tasks</span>
          <span className="company">{user.company.name}</span>
        </div>
        <output className={`live ${live}`} aria-live="polite">
          {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </output>
        <div className="me">
          <span>
            {displayName(user)} <span className="role">{user.role}</span>
          </span>
          <button type="button" onClick={onLogOut}>
            Log out
          </button>
        </div>
      </header>

      <section className="toolbar" aria-label="Filters">
        <label className="search">
          <span className="visually-hidden">Search tasks</span>
          <input
            type="search"
            placeholder="Search tasks"
            value={filters.search}
            onChange={(event) => setFilter({ search: event.target.value }, true)}
          />
        </label>
        <label>
          Assignee{' '}
          <select value={filters.assignee} onChange={(event) => setFilter({ assignee: event.target.value })}>
            <option value="">Anyone</option>
            <option value="none">Unassigned</option>
            {users.map((person) => (
              <option key={person.id} value={String(person.id)}>
                {displayName(person)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Priority{' '}
          <select value={filters.priority} onChange={(event) => setFilter({ priority: event.target.value })}>
            <option value="">Any</option>
            {PRIORITIES.map((priority) => (
              <option key={priority} value={priority}>
                {PRIORITY_LABELS[priority]}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={filters.mine}
            onChange={(event) => setFilter({ mine: event.target.checked })}
          />{' '}
          Only mine
        </label>
        <span className="spacer" />
        <button type="button" className="primary" onClick={() => openEditor(undefined)}>
          New task
        </button>
      </section>

      <p className="help" id="card-help">
        Drag a card to another column, or focus it and press Shift+→ or Shift+← to move it. Enter opens it, Delete
        deletes it.
      </p>

      {notice === undefined ? null : (
        <output className="notice" aria-live="polite">
          {notice}
        </output>
      )}
      {loadError === undefined ? null : (
        <div className="alert" role="alert">
          Could not load the board: {loadError}
        </div>
      )}
      {loaded !== undefined && loaded.count > state.tasks.size + state.deleted.size ? (
        <p className="alert warning">
          Showing the {state.tasks.size} most recently changed of {loaded.count} tasks.
        </p>
      ) : null}

      <main className="board" aria-busy={!isLoaded}>
        {columns.map(({ status, tasks }) => (
          <section
            key={status}
            className={`column${dropTarget === status ? ' drop' : ''}`}
            aria-labelledby={`column-${status}`}
            data-status={status}
            onDragOver={(event) => {
              event.preventDefault();
              event.dataTransfer.dropEffect = 'move';
              setDropTarget(status);
            }}
            onDragLeave={(event) => {
              if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDropTarget(undefined);
            }}
            onDrop={(event) => onDrop(event, status)}
          >
            <h2 id={`column-${status}`}>
              {STATUS_LABELS[status]} <span className="count">{tasks.length}</span>
            </h2>
            <ul>
              {tasks.map((task) => {
                const assignee = task.assigned_to === null ? undefined : usersById.get(task.assigned_to);
                const overdue = isOverdue(task, now);
                return (
                  <li
                    key={task.id}
                    className={`card priority-${task.priority}${state.flashing.has(task.id) ? ' flash' : ''}`}
                    data-task-id={task.id}
                    draggable
                    onDragStart={(event) => {
                      event.dataTransfer.setData('text/plain', String(task.id));
                      event.dataTransfer.effectAllowed = 'move';
                    }}
                    onDragEnd={() => setDropTarget(undefined)}
                  >
                    <button
                      type="button"
                      className="card-title"
                      aria-describedby="card-help"
                      onClick={() => openEditor(task.id)}
                      onKeyDown={(event) => onCardKey(event, task)}
                    >
                      {task.title}
                    </button>
                    <div className="meta">
                      <span className={`priority ${task.priority}`}>{PRIORITY_LABELS[task.priority]}</span>
                      {task.due_date === null ? null : (
                        <span className={`due${overdue ? ' overdue' : ''}`}>
                          {overdue ? 'Overdue · ' : 'Due '}
                          <time dateTime={task.due_date}>{dueLabel(task.due_date)}</time>
                        </span>
                      )}
                      <span className="assignee">
                        {task.assigned_to === null
                          ? 'Unassigned'
                          : assignee === undefined
                            ? 'Someone'
                            : displayName(assignee)}
                      </span>
                    </div>
                  </li>
                );
              })}
            </ul>
          </section>
        ))}
      </main>

      {editing === undefined || (editing.id !== undefined && editedTask === undefined) ? null : (
        <TaskDialog
          task={editedTask}
          users={users}
          onWriting={(id, busy) => {
            if (busy) writing.current.add(id);
            else writing.current.delete(id);
          }}
          onSaved={(task) => {
            applyOwn(task);
            setEditing(undefined);
            setFocusId(task.id);
          }}
          onDelete={(task) => {
            setEditing(undefined);
            setDeleting(task);
          }}
          onClose={() => setEditing(undefined)}
        />
      )}
      {deleting === undefined ? null : (
        <ConfirmDialog
          title="Delete task?"
          message={`“${deleting.title}” will be deleted for everyone in ${user.company.name}.`}
          confirmLabel="Delete"
          onConfirm={() => void remove(deleting)}
          onClose={() => setDeleting(undefined)}
        />
      )}
    </div>
  );
}
