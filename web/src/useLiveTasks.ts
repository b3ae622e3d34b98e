import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { call, get, getAll, type Task, type WorkflowStatus } from './api.ts';
import { type CommentEvent, type LiveStatus, listenLive, type TaskEvent, type WorkspaceEvent } from './live.ts';

/** How long someone else's change stays highlighted. */
const FLASH_MS = 2_000;
/** Catch-up reaches this far before the last change seen: transactions commit in their own order. */
const CATCH_UP_MARGIN_MS = 5_000;

interface State {
  tasks: Map<number, Task>;
  /** Ids deleted while the board was open: a late answer or event must not bring them back. */
  deleted: Set<number>;
  flashing: Set<number>;
  /** Counts the batches of other people's changes applied: what depends on them asks again. */
  changes: number;
}

type Action =
  /** `flash`: the ids to highlight, if their version here is new; given for other people's changes. */
  | { type: 'upsert'; tasks: Task[]; flash?: Set<number> }
  | { type: 'remove'; ids: number[] }
  /** Moved to another project: gone from this board, though not deleted (it may move back). */
  | { type: 'drop'; ids: number[] }
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
      const changes = action.flash === undefined || action.tasks.length === 0 ? state.changes : state.changes + 1;
      return { ...state, tasks, flashing, changes };
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
    case 'drop': {
      if (!action.ids.some((id) => state.tasks.has(id))) return state;
      const tasks = new Map(state.tasks);
      for (const id of action.ids) tasks.delete(id);
      return { ...state, tasks };
    }
    case 'unflash': {
      const flashing = new Set(state.flashing);
      flashing.delete(action.id);
      return { ...state, flashing };
    }
  }
}

/** The parents whose subtask counts a change of a task (from `before` to `after`, either absent) moves. */
function parentsAffected(before: Task | undefined, after: Task | undefined): number[] {
  const done = (task: Task | undefined) => task?.status === 'done';
  if (before?.parent === after?.parent && done(before) === done(after)) return [];
  return [before?.parent, after?.parent].filter((id): id is number => id !== undefined && id !== null);
}

const emptyBoard = (): State => ({ tasks: new Map(), deleted: new Set(), flashing: new Set(), changes: 0 });

/**
 * One project's tasks, kept current: loaded once, then followed over the live connection, with a
 * catch-up (what changed and what was deleted meanwhile) after every (re)connection. Other
 * people's changes are highlighted for a moment; the user's own are not news when they come back.
 * Events about other projects' tasks only take away a task that moved out of this one; events
 * about projects, statuses and labels go to `onWorkspaceEvent`.
 */
export function useLiveTasks({
  userId,
  projectId,
  archived,
  onRemoved,
  onWorkspaceEvent,
  onCommentEvent,
}: {
  userId: number;
  projectId: number;
  /** An archived project's tasks are listed only when the list names it. */
  archived: boolean;
  onRemoved: () => void;
  onWorkspaceEvent: (event: WorkspaceEvent) => void;
  /** A comment on any task the user sees; its task's comment count here is read again first. */
  onCommentEvent: (event: CommentEvent) => void;
}) {
  const [state, dispatch] = useReducer(reduce, undefined, emptyBoard);
  const [loaded, setLoaded] = useState<{ count: number } | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const [live, setLive] = useState<LiveStatus>('connecting');
  const syncedUpTo = useRef('');
  // Our own changes are not news when they come back over the socket: those the server has
  // answered, by the updated_at it gave them, and those still on their way.
  const ownWrites = useRef(new Map<number, string>());
  const writing = useRef(new Set<number>());
  const known = useRef(state.tasks);
  known.current = state.tasks;

  /** Tasks of the board read again, as they are now (one moved to another project meanwhile is left to its event). */
  const reread = useCallback(
    (ids: Iterable<number>) => {
      for (const id of new Set(ids)) {
        if (!known.current.has(id)) continue;
        get<Task>(`/api/tasks/${id}/`)
          .then((task) => {
            if (task.project === projectId) dispatch({ type: 'upsert', tasks: [task] });
          })
          .catch(() => undefined);
      }
    },
    [projectId],
  );

  /**
   * A parent's subtask counts change with its children, but the server tells only the child: the
   * parents of children that came, went, moved under another or crossed done are read again.
   */
  const refreshParents = useCallback(
    (changed: Task[], gone: number[] = []) => {
      reread([
        ...changed.flatMap((task) => parentsAffected(known.current.get(task.id), task)),
        ...gone.flatMap((id) => parentsAffected(known.current.get(id), undefined)),
      ]);
    },
    [reread],
  );

  const seen = useCallback((tasks: Task[]) => {
    for (const task of tasks) if (task.updated_at > syncedUpTo.current) syncedUpTo.current = task.updated_at;
  }, []);

  /** The server's answer to one of our own writes. */
  const saved = useCallback(
    (task: Task) => {
      ownWrites.current.set(task.id, task.updated_at);
      seen([task]);
      refreshParents([task]);
      dispatch({ type: 'upsert', tasks: [task] });
    },
    [seen, refreshParents],
  );

  /** A write of ours to this task is (or is no longer) on its way. */
  const setWriting = useCallback((id: number, busy: boolean) => {
    if (busy) writing.current.add(id);
    else writing.current.delete(id);
  }, []);

  const removed = useCallback(
    (ids: number[]) => {
      refreshParents([], ids);
      dispatch({ type: 'remove', ids });
    },
    [refreshParents],
  );

  const isMine = useCallback(
    (task: Task) =>
      ownWrites.current.get(task.id) === task.updated_at ||
      writing.current.has(task.id) ||
      // created here and not changed since: the answer to our own create may just not be in yet
      (!known.current.has(task.id) && task.created_by === userId && task.created_at === task.updated_at),
    [userId],
  );

  const applyTheirs = useCallback(
    (all: Task[]) => {
      const tasks = all.filter((task) => task.project === projectId);
      const elsewhere = all.filter((task) => task.project !== projectId).map((task) => task.id);
      if (elsewhere.length > 0) dispatch({ type: 'drop', ids: elsewhere });
      const flash = new Set(tasks.filter((task) => !isMine(task)).map((task) => task.id));
      seen(tasks);
      refreshParents(all);
      dispatch({ type: 'upsert', tasks, flash });
      for (const id of flash) window.setTimeout(() => dispatch({ type: 'unflash', id }), FLASH_MS);
    },
    [seen, isMine, projectId, refreshParents],
  );

  useEffect(() => {
    let cancelled = false;
    getAll<Task>(`/api/tasks/?project=${projectId}&ordering=-updated_at`)
      .then((tasks) => {
        if (cancelled) return;
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
  }, [seen, projectId]);

  const catchUp = useCallback(
    async (missedSince?: string) => {
      const from = Math.min(Date.parse(syncedUpTo.current), Date.parse(missedSince ?? syncedUpTo.current));
      const since = encodeURIComponent(new Date(Math.max(0, from - CATCH_UP_MARGIN_MS)).toISOString());
      const [changed, gone] = await Promise.all([
        // Every project's changes, so that a task moved out of this one leaves it (an archived
        // project's are listed only when named, and nothing moves in or out of one).
        getAll<Task>(
          `/api/tasks/?updated_after=${since}&ordering=updated_at${archived ? `&project=${projectId}` : ''}`,
        ),
        getAll<{ id: number }>(`/api/tasks/deleted/?since=${since}`),
      ]);
      // A task's is_blocked flips when what it waits for is done or deleted, but its updated_at
      // stays: the event that told it was missed, and updated_after does not list it.
      const moved = new Set([...changed.items, ...gone.items].map((task) => task.id));
      reread(
        [...known.current.values()]
          .filter((task) => task.blocked_by.some((id) => moved.has(id)))
          .map((task) => task.id),
      );
      applyTheirs(changed.items);
      if (gone.items.length > 0) removed(gone.items.map((task) => task.id));
    },
    [applyTheirs, archived, projectId, reread, removed],
  );

  const onEvent = useCallback(
    (event: TaskEvent) => {
      if (event.type === 'task_deleted') removed([event.task.id]);
      else applyTheirs([event.task]);
    },
    [applyTheirs, removed],
  );

  // A comment changes its task's comment_count, not its updated_at: the event says which task to read again.
  const onComment = useCallback(
    (event: CommentEvent) => {
      reread([event.comment.task]);
      onCommentEvent(event);
    },
    [reread, onCommentEvent],
  );

  const isLoaded = loaded !== undefined;
  useEffect(() => {
    if (!isLoaded) return;
    return listenLive({
      onEvent,
      onStatus: setLive,
      catchUp,
      onRemoved,
      onWorkspaceEvent,
      onCommentEvent: onComment,
    });
  }, [isLoaded, onEvent, catchUp, onRemoved, onWorkspaceEvent, onComment]);

  /** Shown at once; the server's answer follows, or the old version comes back and the error is thrown. */
  const move = useCallback(
    async (task: Task, state: WorkflowStatus) => {
      dispatch({ type: 'upsert', tasks: [{ ...task, state: state.id, status: state.category }] });
      writing.current.add(task.id);
      try {
        const answer = (await call<Task>('PATCH', `/api/tasks/${task.id}/`, { body: { state: state.id } })).data;
        saved(answer);
        // not found by saved(), which compares with the card as already moved above
        reread(parentsAffected(task, answer));
      } catch (error) {
        dispatch({ type: 'upsert', tasks: [task] });
        throw error;
      } finally {
        writing.current.delete(task.id);
      }
    },
    [saved, reread],
  );

  return { ...state, loaded, loadError, live, saved, setWriting, removed, move, reread };
}
