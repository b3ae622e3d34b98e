import { type DragEvent, useCallback, useEffect, useMemo, useState } from 'react';
import { call, type Priority, STATUSES, type Status, type Task, type User } from './api.ts';
import { BoardColumn } from './BoardColumn.tsx';
import { BoardToolbar, type Filters, filtersFrom, urlFor } from './BoardToolbar.tsx';
import { LiveBadge } from './LiveBadge.tsx';
import { ConfirmDialog } from './Modal.tsx';
import { navigate, useLocation } from './router.ts';
import { PageTitle, Shell } from './Shell.tsx';
import { TaskDialog } from './TaskDialog.tsx';
import { useBoardKeyboard } from './useBoardKeyboard.ts';
import { useCompanyUsers } from './useCompanyUsers.ts';
import { useLiveTasks } from './useLiveTasks.ts';
import { useServerSearch } from './useServerSearch.ts';

const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, medium: 2, low: 3 };

const byBoardOrder = (a: Task, b: Task) =>
  PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
  (a.due_date ?? '9999').localeCompare(b.due_date ?? '9999') ||
  b.id - a.id;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

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
  const board = useLiveTasks({ userId: user.id, onRemoved: onLogOut });
  const { tasks, deleted, loaded } = board;
  const people = useCompanyUsers(tasks);
  const searchHits = useServerSearch(filters.search, board.changes);
  const [notice, setNotice] = useState<string | undefined>();
  const [editing, setEditing] = useState<{ id: number | undefined } | undefined>();
  const [deleting, setDeleting] = useState<Task | undefined>();
  const [dropTarget, setDropTarget] = useState<Status | undefined>();
  // The card being dragged stays rendered wherever its column is scrolled.
  const [dragging, setDragging] = useState<number | undefined>();

  const say = useCallback((message: string) => {
    setNotice(message);
    window.setTimeout(() => setNotice((current) => (current === message ? undefined : current)), 5_000);
  }, []);

  useEffect(() => {
    if (openTaskId === undefined || loaded === undefined) return;
    if (tasks.has(openTaskId)) setEditing({ id: openTaskId });
    else say('That task no longer exists, or is not one of your company’s.');
    navigate('/', { replace: true });
  }, [openTaskId, loaded, tasks, say]);

  const editedTask = editing?.id === undefined ? undefined : tasks.get(editing.id);
  useEffect(() => {
    if (editing?.id !== undefined && deleted.has(editing.id)) {
      setEditing(undefined);
      say('The task you were editing was deleted by someone else.');
    }
  }, [editing, deleted, say]);

  const now = Date.now();
  const pinned = useMemo(() => (dragging === undefined ? [] : [dragging]), [dragging]);
  const columns = useMemo(() => {
    const visible = [...tasks.values()].filter(
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
  }, [tasks, filters.assignee, filters.priority, filters.mine, searchHits, user.id]);

  const openEditor = (id: number | undefined) => {
    setEditing({ id });
    people.reload();
  };

  const setFilter = (change: Partial<Filters>, replace = false) =>
    navigate(urlFor({ ...filters, ...change }), { replace });

  const move = (task: Task, status: Status) => {
    if (task.status === status) return;
    board.move(task, status).catch((error: unknown) => say(`Could not move “${task.title}”: ${messageOf(error)}`));
  };

  const remove = async (task: Task) => {
    setDeleting(undefined);
    setEditing(undefined);
    try {
      await call('DELETE', `/api/tasks/${task.id}/`);
      board.removed([task.id]);
      say(`Deleted “${task.title}”.`);
    } catch (error) {
      say(`Could not delete “${task.title}”: ${messageOf(error)}`);
    }
  };

  const keyboard = useBoardKeyboard({
    columns,
    exists: (id) => tasks.has(id),
    onMove: move,
    onDelete: setDeleting,
  });

  const onDrop = (event: DragEvent, status: Status) => {
    event.preventDefault();
    setDropTarget(undefined);
    setDragging(undefined);
    const task = tasks.get(Number(event.dataTransfer.getData('text/plain')));
    if (task !== undefined) move(task, status);
  };

  const loadError = board.loadError ?? people.error;
  return (
    <Shell user={user} onLogOut={onLogOut} status={<LiveBadge status={board.live} />}>
      <main id="main" tabIndex={-1} className="board-page">
        <PageTitle hidden>Board</PageTitle>
        <BoardToolbar
          filters={filters}
          users={people.users}
          onFilter={setFilter}
          onNewTask={() => openEditor(undefined)}
        />

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
        {loaded !== undefined && loaded.count > tasks.size + deleted.size ? (
          <p className="alert warning">
            Showing the {tasks.size} most recently changed of {loaded.count} tasks.
          </p>
        ) : null}

        {loaded !== undefined && tasks.size === 0 ? (
          <div className="empty-board">
            <h2>No tasks yet</h2>
            <p>
              Create the first one with <b>New task</b> above: it starts in To do, and everyone in {user.company.name}{' '}
              sees it at once. Drag it across the columns as the work moves on.
            </p>
          </div>
        ) : null}

        <div className="board" aria-busy={loaded === undefined}>
          {columns.map(({ status, tasks: cards }) => (
            <BoardColumn
              key={status}
              status={status}
              tasks={cards}
              usersById={people.usersById}
              flashing={board.flashing}
              activeId={keyboard.active[status]}
              pinned={pinned}
              dropTarget={dropTarget === status}
              now={now}
              onOpen={(task) => openEditor(task.id)}
              onCardKey={keyboard.onCardKey}
              onCardFocus={keyboard.focused}
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
          users={people.users}
          onWriting={board.setWriting}
          onSaved={(task) => {
            board.saved(task);
            setEditing(undefined);
            keyboard.focusTask(task);
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
