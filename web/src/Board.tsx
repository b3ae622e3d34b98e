import {
  type DragEvent,
  type KeyboardEvent,
  type ReactNode,
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
import { BoardColumn } from './BoardColumn.tsx';
import { LiveConnection, type LiveStatus, type TaskEvent } from './live.ts';
import { ConfirmDialog } from './Modal.tsx';
import { navigate, useLocation } from './router.ts';
import { PageTitle, Shell } from './Shell.tsx';
import { PRIORITY_LABELS, TaskDialog } from './TaskDialog.tsx';

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

export function Board({
  user,
  onLogOut,
  openTaskId,
}: {
  user: User;
  onLogOut: () => void;
  /** From a link to one task: opened once the board has loaded, then the address becomes the board's. */
  openTaskId?: number;
}) {
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
  // Each column's tab stop (roving tabindex: one Tab stop per column, arrows within it), and the
  // card being dragged: both stay rendered wherever their column is scrolled.
  const [active, setActive] = useState<Partial<Record<Status, number>>>({});
  const [dragging, setDragging] = useState<number | undefined>();
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

  const catchUp = useCallback(
    async (missedSince?: string) => {
      const from = Math.min(Date.parse(syncedUpTo.current), Date.parse(missedSince ?? syncedUpTo.current));
      const since = encodeURIComponent(new Date(Math.max(0, from - CATCH_UP_MARGIN_MS)).toISOString());
      const [changed, gone] = await Promise.all([
        getAll<Task>(`/api/tasks/?updated_after=${since}&ordering=updated_at`),
        getAll<{ id: number }>(`/api/tasks/deleted/?since=${since}`),
      ]);
      applyTheirs(changed.items);
      if (gone.items.length > 0) dispatch({ type: 'remove', ids: gone.items.map((task) => task.id) });
    },
    [applyTheirs],
  );

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
    const target = document.querySelector<HTMLElement>(`[data-task-id="${focusId}"] .card-title`);
    // not rendered yet (it becomes its column's tab stop, rendered with the next render), or gone
    if (target === null && state.tasks.has(focusId)) return;
    target?.focus();
    setFocusId(undefined);
  });

  /** Focus a card, which may be far down a column and not rendered yet: it becomes the tab stop first. */
  const focusTask = useCallback((task: Pick<Task, 'id' | 'status'>) => {
    setActive((current) => (current[task.status] === task.id ? current : { ...current, [task.status]: task.id }));
    setFocusId(task.id);
  }, []);

  useEffect(() => {
    if (openTaskId === undefined || loaded === undefined) return;
    if (state.tasks.has(openTaskId)) setEditing({ id: openTaskId });
    else say('That task no longer exists, or is not one of your company’s.');
    navigate('/', { replace: true });
  }, [openTaskId, loaded, state.tasks, say]);

  const editedTask = editing?.id === undefined ? undefined : state.tasks.get(editing.id);
  useEffect(() => {
    if (editing?.id !== undefined && state.deleted.has(editing.id)) {
      setEditing(undefined);
      say('The task you were editing was deleted by someone else.');
    }
  }, [editing, state.deleted, say]);

  const now = Date.now();
  const pinned = useMemo(() => (dragging === undefined ? [] : [dragging]), [dragging]);
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

  const onCardKey = (event: KeyboardEvent, task: Task, index: number, rows: number) => {
    const columnIndex = STATUSES.indexOf(task.status);
    const cards = columns[columnIndex]?.tasks ?? [];
    const focusAt = (at: number) => {
      event.preventDefault();
      const target = cards[Math.max(0, Math.min(cards.length - 1, at))];
      if (target !== undefined) focusTask(target);
    };
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.shiftKey && (event.key === 'ArrowRight' || event.key === 'ArrowLeft')) {
      const target = STATUSES[columnIndex + (event.key === 'ArrowRight' ? 1 : -1)];
      event.preventDefault();
      if (target === undefined) return;
      focusTask({ id: task.id, status: target });
      void move(task, target);
    } else if (event.shiftKey) {
      return;
    } else if (event.key === 'ArrowDown') focusAt(index + 1);
    else if (event.key === 'ArrowUp') focusAt(index - 1);
    else if (event.key === 'PageDown') focusAt(index + rows);
    else if (event.key === 'PageUp') focusAt(index - rows);
    else if (event.key === 'Home') focusAt(0);
    else if (event.key === 'End') focusAt(cards.length - 1);
    else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      // To the neighbouring column's tab stop, or the card at the same height there.
      const neighbour = columns[columnIndex + (event.key === 'ArrowRight' ? 1 : -1)];
      event.preventDefault();
      if (neighbour === undefined || neighbour.tasks.length === 0) return;
      const stop = neighbour.tasks.find((each) => each.id === active[neighbour.status]);
      focusTask(stop ?? neighbour.tasks[Math.min(index, neighbour.tasks.length - 1)] ?? task);
    } else if (event.key === 'Delete') {
      event.preventDefault();
      setDeleting(task);
    }
  };

  const onDrop = (event: DragEvent, status: Status) => {
    event.preventDefault();
    setDropTarget(undefined);
    setDragging(undefined);
    const task = state.tasks.get(Number(event.dataTransfer.getData('text/plain')));
    if (task !== undefined) void move(task, status);
  };

  const liveBadge: ReactNode = (
    <output className={`live ${live}`} aria-live="polite">
      {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
    </output>
  );

  return (
    <Shell user={user} onLogOut={onLogOut} status={liveBadge}>
      <main id="main" tabIndex={-1} className="board-page">
        <PageTitle hidden>Board</PageTitle>
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
          Drag a card to another column, or focus it and press Shift+→ or Shift+← to move it. ↑ ↓ Home End go through a
          column, ← → to the next one; Enter opens a card, Delete deletes it.
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

        <div className="board" aria-busy={!isLoaded}>
          {columns.map(({ status, tasks }) => (
            <BoardColumn
              key={status}
              status={status}
              tasks={tasks}
              usersById={usersById}
              flashing={state.flashing}
              activeId={active[status]}
              pinned={pinned}
              dropTarget={dropTarget === status}
              now={now}
              onOpen={(task) => openEditor(task.id)}
              onCardKey={onCardKey}
              onCardFocus={(task) =>
                setActive((current) =>
                  current[task.status] === task.id ? current : { ...current, [task.status]: task.id },
                )
              }
              onDragStart={(task) => setDragging(task.id)}
              onDragEnd={() => {
                setDropTarget(undefined);
                setDragging(undefined);
              }}
              onDragOver={() => setDropTarget(status)}
              onDragLeave={() => setDropTarget(undefined)}
              onDrop={(event) => onDrop(event, status)}
            />
          ))}
        </div>
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
            focusTask(task);
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
    </Shell>
  );
}
