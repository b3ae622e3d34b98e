import { type CSSProperties, type DragEvent, useCallback, useEffect, useMemo, useState } from 'react';
import {
  ApiError,
  call,
  get,
  type Page,
  type Priority,
  type Project,
  type Task,
  type User,
  type WorkflowStatus,
} from './api.ts';
import { BoardColumn } from './BoardColumn.tsx';
import { BoardToolbar, type Filters, filtersFrom, urlFor } from './BoardToolbar.tsx';
import { LiveBadge } from './LiveBadge.tsx';
import type { CommentEvent, WorkspaceEvent } from './live.ts';
import { ConfirmDialog } from './Modal.tsx';
import { ProjectSidebar } from './Projects.tsx';
import { blockedByText, openBlockers, stateName, taskPath, useTasksById } from './relations.ts';
import { navigate, useLocation } from './router.ts';
import { Link, PageTitle, Shell } from './Shell.tsx';
import { TaskDialog } from './TaskDialog.tsx';
import { useBoardKeyboard } from './useBoardKeyboard.ts';
import { useCompanyUsers } from './useCompanyUsers.ts';
import { useLiveTasks } from './useLiveTasks.ts';
import { useServerSearch } from './useServerSearch.ts';
import { useStatuses } from './useStatuses.ts';
import { boardPath, type Workspace } from './useWorkspace.ts';

const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, medium: 2, low: 3 };

const byBoardOrder = (a: Task, b: Task) =>
  PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
  (a.due_date ?? '9999').localeCompare(b.due_date ?? '9999') ||
  b.id - a.id;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** One project's board: its statuses as columns, its tasks as cards. Rendered anew for each project (keyed). */
export function Board({
  user,
  project,
  workspace,
  onLogOut,
  openNumber,
}: {
  user: User;
  project: Project;
  workspace: Workspace;
  onLogOut: () => void;
  /** From a link to one task (`/p/KEY/42`): opened once the board has loaded, then the address becomes the board's. */
  openNumber?: number;
}) {
  const { query } = useLocation();
  const filters = filtersFrom(query);
  const here = boardPath(project);
  const readOnly = project.archived || project.my_role === 'viewer';
  const { statuses, error: statusError, reload: reloadStatuses } = useStatuses(project.id);
  const { apply } = workspace;
  const onWorkspaceEvent = useCallback(
    (event: WorkspaceEvent) => {
      // A status event of this project (or a deletion, which names no project): the columns change.
      if (event.type === 'status_updated' ? event.status.project === project.id : event.type === 'status_deleted') {
        reloadStatuses();
      } else apply(event);
    },
    [apply, project.id, reloadStatuses],
  );
  // The open task's comment thread listens to the board's socket.
  const [commentListeners] = useState(() => new Set<(event: CommentEvent) => void>());
  const onCommentEvent = useCallback(
    (event: CommentEvent) => {
      for (const listener of commentListeners) listener(event);
    },
    [commentListeners],
  );
  const subscribeComments = useCallback(
    (listener: (event: CommentEvent) => void) => {
      commentListeners.add(listener);
      return () => void commentListeners.delete(listener);
    },
    [commentListeners],
  );
  const board = useLiveTasks({
    userId: user.id,
    projectId: project.id,
    archived: project.archived,
    onRemoved: onLogOut,
    onWorkspaceEvent,
    onCommentEvent,
  });
  const { tasks, deleted, loaded } = board;
  const people = useCompanyUsers(tasks, project.id, workspace.seesCompany);
  const searchHits = useServerSearch(filters.search, board.changes);
  const [notice, setNotice] = useState<string | undefined>();
  const [editing, setEditing] = useState<{ id: number | undefined } | undefined>();
  const [deleting, setDeleting] = useState<Task | undefined>();
  const [dropTarget, setDropTarget] = useState<number | undefined>();
  // The card being dragged stays rendered wherever its column is scrolled.
  const [dragging, setDragging] = useState<number | undefined>();
  /** A move refused because the task waits for others: which task, where to, and the server's words if it said them. */
  const [refusal, setRefusal] = useState<{ id: number; to: string; detail?: string } | undefined>();

  // Blockers in other projects are not on the board: read once each, for their names.
  const outside = useMemo(
    () =>
      [...tasks.values()].flatMap((task) => (task.is_blocked ? task.blocked_by.filter((id) => !tasks.has(id)) : [])),
    [tasks],
  );
  const read = useTasksById(outside);
  const blockersOf = useCallback(
    (task: Task) => openBlockers(task, (id) => tasks.get(id) ?? read.get(id)),
    [tasks, read],
  );

  const say = useCallback((message: string) => {
    setNotice(message);
    window.setTimeout(() => setNotice((current) => (current === message ? undefined : current)), 5_000);
  }, []);

  const isLoaded = loaded !== undefined;
  useEffect(() => {
    if (openNumber === undefined || !isLoaded) return;
    const ref = `${project.key}-${openNumber}`;
    let cancelled = false;
    get<Page<Task>>(`/api/tasks/?ref=${encodeURIComponent(ref)}&project=${project.id}`)
      .then(({ results }) => {
        if (cancelled) return;
        const [found] = results;
        if (found === undefined) say(`There is no task ${ref}, or it is not one you can see.`);
        else {
          // the board may not have it: it loads the 5,000 most recently changed tasks at most
          board.saved(found);
          setEditing({ id: found.id });
        }
        navigate(here, { replace: true });
      })
      .catch((error: unknown) => {
        if (!cancelled) say(`Could not open ${ref}: ${messageOf(error)}`);
      });
    return () => {
      cancelled = true;
    };
  }, [openNumber, isLoaded, project.key, project.id, here, say, board.saved]);

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
        (filters.label === '' || task.labels.includes(Number(filters.label))) &&
        (!filters.mine || task.assigned_to === user.id) &&
        (!filters.blocked || task.is_blocked) &&
        (searchHits === undefined || searchHits.has(task.id)),
    );
    return (statuses ?? []).map((status) => ({
      status,
      tasks: visible.filter((task) => task.state === status.id).sort(byBoardOrder),
    }));
  }, [
    tasks,
    statuses,
    filters.assignee,
    filters.priority,
    filters.label,
    filters.mine,
    filters.blocked,
    searchHits,
    user.id,
  ]);

  const openEditor = (id: number | undefined) => {
    setEditing({ id });
    people.reload();
  };

  const setFilter = (change: Partial<Filters>, replace = false) =>
    navigate(urlFor(here, { ...filters, ...change }), { replace });

  const move = (task: Task, status: WorkflowStatus) => {
    if (readOnly || task.state === status.id) return;
    setRefusal(undefined);
    // What the server would refuse is refused here first: the card never jumps there and back.
    if (task.is_blocked && status.category !== 'todo') {
      setRefusal({ id: task.id, to: status.name });
      return;
    }
    board.move(task, status).catch((error: unknown) => {
      if (!(error instanceof ApiError && error.status === 409 && messageOf(error).startsWith('Blocked by'))) {
        say(`Could not move “${task.title}”: ${messageOf(error)}`);
        return;
      }
      setRefusal({ id: task.id, to: status.name, detail: messageOf(error) });
      // A blocker added elsewhere, not yet seen here: the task's newest version names it.
      get<Task>(`/api/tasks/${task.id}/`)
        .then(board.saved)
        .catch(() => undefined);
    });
  };
  const refused = refusal === undefined ? undefined : tasks.get(refusal.id);
  const refusedBlockers = refused === undefined ? [] : blockersOf(refused);

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
    readOnly,
  });

  const onDrop = (event: DragEvent, status: WorkflowStatus) => {
    event.preventDefault();
    setDropTarget(undefined);
    setDragging(undefined);
    const task = tasks.get(Number(event.dataTransfer.getData('text/plain')));
    if (task !== undefined) move(task, status);
  };

  const loadError = board.loadError ?? statusError ?? people.error;
  return (
    <Shell user={user} onLogOut={onLogOut} status={<LiveBadge status={board.live} />} title={`${project.name} · Board`}>
      <div className="board-layout">
        <ProjectSidebar user={user} workspace={workspace} current={project.id} />
        <main id="main" tabIndex={-1} className="board-page">
          <div className="board-head">
            <PageTitle>
              {project.name}
              <span className="visually-hidden"> board</span>
            </PageTitle>
            <span className="project-key">{project.key}</span>
            {project.is_private ? <span className="tag">Private</span> : null}
            {project.archived ? <span className="tag archived">Archived · read only</span> : null}
            {!project.archived && project.my_role === 'viewer' ? <span className="tag">Viewer · read only</span> : null}
            <span className="spacer" />
            {project.my_role === 'manager' ? (
              <Link to={`/p/${encodeURIComponent(project.key)}/settings`} className="button-link">
                Project settings
              </Link>
            ) : null}
          </div>
          <BoardToolbar
            filters={filters}
            users={people.users}
            labels={workspace.labels}
            onFilter={setFilter}
            onNewTask={readOnly ? undefined : () => openEditor(undefined)}
          />

          <p className="help" id="card-help">
            {readOnly
              ? '↑ ↓ Home End go through a column, ← → to the next one; Enter opens a card.'
              : 'Drag a card to another column, or focus it and press Shift+→ or Shift+← to move it. ↑ ↓ Home End go through a column, ← → to the next one; Enter opens a card, Delete deletes it.'}
          </p>

          {notice === undefined ? null : (
            <output className="notice" aria-live="polite">
              {notice}
            </output>
          )}
          {refusal === undefined || refused === undefined ? null : (
            <div className="alert refusal" role="alert">
              <p>
                {refused.ref} “{refused.title}” cannot move to {refusal.to}:{' '}
                {refusal.detail ?? blockedByText(refusedBlockers)}. Finish{' '}
                {refusedBlockers.length === 1 ? 'it' : 'them'} first, or remove the dependency in the task.
              </p>
              {refusedBlockers.length === 0 ? null : (
                <ul aria-label="Blocked by">
                  {refusedBlockers.map((blocker) => (
                    <li key={blocker.id}>
                      <Link to={taskPath(blocker.ref)}>
                        {blocker.ref} {blocker.title}
                      </Link>{' '}
                      ({stateName(blocker, blocker.project === project.id ? statuses : undefined)})
                    </li>
                  ))}
                </ul>
              )}
              <div className="actions">
                <button type="button" className="quiet" onClick={() => setRefusal(undefined)}>
                  Dismiss
                </button>
              </div>
            </div>
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

          {loaded !== undefined && tasks.size === 0 && !readOnly ? (
            <div className="empty-board">
              <h2>No tasks yet</h2>
              <p>
                Create the first one with <b>New task</b> above: it starts in{' '}
                {statuses?.[0]?.name ?? 'the first column'}, and everyone in {project.name} sees it at once. Drag it
                across the columns as the work moves on.
              </p>
            </div>
          ) : null}

          <div
            className="board"
            aria-busy={loaded === undefined || statuses === undefined}
            style={{ '--columns': Math.max(1, columns.length) } as CSSProperties}
          >
            {columns.map(({ status, tasks: cards }) => (
              <BoardColumn
                key={status.id}
                status={status}
                tasks={cards}
                usersById={people.usersById}
                labelsById={workspace.labelsById}
                readOnly={readOnly}
                flashing={board.flashing}
                blockersOf={blockersOf}
                activeId={keyboard.active[status.id]}
                pinned={pinned}
                dropTarget={dropTarget === status.id}
                now={now}
                onOpen={(task) => openEditor(task.id)}
                onCardKey={keyboard.onCardKey}
                onCardFocus={keyboard.focused}
                onDragStart={(task) => setDragging(task.id)}
                onDragEnd={() => {
                  setDropTarget(undefined);
                  setDragging(undefined);
                }}
                onDragOver={() => setDropTarget(status.id)}
                onDragLeave={() => setDropTarget(undefined)}
                onDrop={(event) => onDrop(event, status)}
              />
            ))}
          </div>
        </main>
      </div>

      {editing === undefined ||
      statuses === undefined ||
      (editing.id !== undefined && editedTask === undefined) ? null : (
        <TaskDialog
          key={editing.id ?? 'new'}
          task={editedTask}
          project={project}
          statuses={statuses}
          labels={workspace.labels}
          projects={workspace.projects ?? []}
          readOnly={readOnly}
          users={people.users}
          board={tasks}
          user={user}
          seesCompany={workspace.seesCompany}
          subscribeComments={subscribeComments}
          onWriting={board.setWriting}
          onUpdated={board.saved}
          onSavedOther={(other) => {
            // a subtask may be made in, or a dependency reach into, another project
            if (other.project === project.id) board.saved(other);
          }}
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
          message={`“${deleting.title}” (${deleting.ref}) will be deleted for everyone in ${project.name}.`}
          confirmLabel="Delete"
          onConfirm={() => void remove(deleting)}
          onClose={() => setDeleting(undefined)}
        />
      )}
    </Shell>
  );
}
