import {
  type Comment,
  freshAccess,
  type InboxItem,
  type Label,
  onAccessChange,
  type Project,
  refresh,
  type Task,
  type WorkflowStatus,
} from './api.ts';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

export type TaskEvent =
  | { type: 'task_created' | 'task_updated'; task: Task }
  | { type: 'task_deleted'; task: Pick<Task, 'id'> & Partial<Task> };

/** Changes to projects, their statuses and the company's labels (`*_deleted` carry only the id). */
export type WorkspaceEvent =
  | { type: 'project_updated'; project: Omit<Project, 'my_role'> }
  | { type: 'project_deleted'; project: Pick<Project, 'id'> }
  | { type: 'status_updated'; status: WorkflowStatus }
  | { type: 'status_deleted'; status: Pick<WorkflowStatus, 'id'> }
  | { type: 'label_updated'; label: Label }
  | { type: 'label_deleted'; label: Pick<Label, 'id'> };

/** Comments of tasks the user sees (a deletion carries only the comment's id and task). */
export type CommentEvent =
  | { type: 'comment_created' | 'comment_updated'; comment: Comment }
  | { type: 'comment_deleted'; comment: Pick<Comment, 'id' | 'task'> };

const COMMENT_EVENTS = new Set<string>(['comment_created', 'comment_updated', 'comment_deleted']);

const WORKSPACE_EVENTS = new Set<string>([
  'project_updated',
  'project_deleted',
  'status_updated',
  'status_deleted',
  'label_updated',
  'label_deleted',
]);

export interface LiveOptions {
  onEvent?: (event: TaskEvent) => void;
  onWorkspaceEvent?: (event: WorkspaceEvent) => void;
  onCommentEvent?: (event: CommentEvent) => void;
  /** A new item in this user's inbox (sent to their sockets only). */
  onInboxItem?: (item: InboxItem) => void;
  onStatus: (status: LiveStatus) => void;
  /**
   * After every (re)connection: fetch what changed while no socket was listening, and at least
   * since `missedSince` when the server said events from then on did not reach the socket.
   */
  catchUp: (missedSince?: string) => Promise<void>;
  /** The server says this user is no longer in the company. */
  onRemoved: () => void;
}

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_REMOVED = 4403;
const MAX_BACKOFF_MS = 15_000;

/**
 * The page's socket on /ws/tasks/. It reconnects on its own with exponential backoff and jitter
 * (so a restarted server is not hit by every browser at once), renews its token in place when the
 * access token rotates, and catches up after every connection.
 */
class LiveConnection {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private timer: number | undefined;
  private stopped = false;
  private missedSince: string | undefined;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: LiveOptions) {
    this.unsubscribe = onAccessChange((token) => {
      if (token !== undefined && this.socket?.readyState === WebSocket.OPEN) {
        this.socket.send(JSON.stringify({ type: 'authenticate', token }));
      }
    });
    options.onStatus('connecting');
    void this.connect();
  }

  stop() {
    this.stopped = true;
    this.unsubscribe();
    window.clearTimeout(this.timer);
    this.socket?.close(1000, 'Leaving');
  }

  /** Connects again, and so catches up again: what a failed catch-up needs. */
  restart() {
    this.socket?.close(4000, 'Catch-up failed');
  }

  private async connect() {
    let token: string | undefined;
    try {
      token = await freshAccess();
    } catch {
      this.retry();
      return;
    }
    if (this.stopped || token === undefined) return;
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${window.location.host}/ws/tasks/?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.onmessage = (message) => {
      let data: { type?: string };
      try {
        data = JSON.parse(String(message.data)) as { type?: string };
      } catch {
        return;
      }
      if (data.type === 'connection_established') {
        const missedSince = this.missedSince;
        this.options
          .catchUp(missedSince)
          .then(() => {
            if (this.missedSince === missedSince) this.missedSince = undefined;
            this.attempt = 0;
            if (socket === this.socket) this.options.onStatus('live');
          })
          // the socket stays; a failed catch-up is retried by reconnecting
          .catch(() => socket.close(4000, 'Catch-up failed'));
      } else if (data.type === 'events_missed') {
        // the server closes the socket next; the catch-up after reconnecting starts from here
        const since = (data as { since?: unknown }).since;
        if (typeof since === 'string' && (this.missedSince === undefined || since < this.missedSince)) {
          this.missedSince = since;
        }
      } else if (data.type === 'task_created' || data.type === 'task_updated' || data.type === 'task_deleted') {
        this.options.onEvent?.(data as TaskEvent);
      } else if (data.type !== undefined && COMMENT_EVENTS.has(data.type)) {
        this.options.onCommentEvent?.(data as CommentEvent);
      } else if (data.type === 'inbox_item') {
        this.options.onInboxItem?.((data as { item: InboxItem }).item);
      } else if (data.type !== undefined && WORKSPACE_EVENTS.has(data.type)) {
        this.options.onWorkspaceEvent?.(data as WorkspaceEvent);
      }
    };
    socket.onclose = (event) => {
      if (socket !== this.socket || this.stopped) return;
      if (event.code === CLOSE_REMOVED) {
        this.options.onRemoved();
        return;
      }
      if (event.code === CLOSE_UNAUTHORIZED) {
        // Expired or revoked: the next attempt takes a fresh token, or finds the session over.
        void refresh()
          .catch(() => undefined)
          .then(() => this.retry());
        return;
      }
      this.retry();
    };
  }

  private retry() {
    if (this.stopped) return;
    this.options.onStatus('reconnecting');
    const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = window.setTimeout(() => void this.connect(), ceiling / 2 + (Math.random() * ceiling) / 2);
  }
}

/**
 * Everything live on a page (its board or dashboard, the header's inbox bell) shares one socket:
 * open while anyone listens, each event handed to every listener. After each connection every
 * listener catches up, and one that starts listening on a socket already live catches up first.
 */
const listeners = new Set<LiveOptions>();
let shared: LiveConnection | undefined;
let sharedStatus: LiveStatus = 'connecting';
/** The listeners that have caught up on the current connection. */
let caughtUp = new WeakSet<LiveOptions>();
let closing: number | undefined;

const everyone = (each: (listener: LiveOptions) => void) => {
  for (const listener of [...listeners]) each(listener);
};

async function catchUpEveryone(missedSince?: string) {
  caughtUp = new WeakSet();
  // a listener that joins while the others catch up is caught up in the next round
  for (;;) {
    const waiting = [...listeners].filter((listener) => !caughtUp.has(listener));
    if (waiting.length === 0) return;
    await Promise.all(waiting.map((listener) => listener.catchUp(missedSince)));
    for (const listener of waiting) caughtUp.add(listener);
  }
}

const fanOut: LiveOptions = {
  onEvent: (event) => everyone((listener) => listener.onEvent?.(event)),
  onWorkspaceEvent: (event) => everyone((listener) => listener.onWorkspaceEvent?.(event)),
  onCommentEvent: (event) => everyone((listener) => listener.onCommentEvent?.(event)),
  onInboxItem: (item) => everyone((listener) => listener.onInboxItem?.(item)),
  onStatus: (status) => {
    sharedStatus = status;
    everyone((listener) => listener.onStatus(status));
  },
  catchUp: catchUpEveryone,
  onRemoved: () => everyone((listener) => listener.onRemoved()),
};

/** Listens on the page's socket until the returned function is called. */
export function listenLive(listener: LiveOptions): () => void {
  listeners.add(listener);
  if (shared === undefined) {
    shared = new LiveConnection(fanOut);
  } else if (sharedStatus === 'live') {
    const connection = shared;
    listener.onStatus('connecting');
    listener
      .catchUp()
      .then(() => {
        caughtUp.add(listener);
        if (connection === shared && sharedStatus === 'live' && listeners.has(listener)) listener.onStatus('live');
      })
      .catch(() => connection.restart());
  } else {
    listener.onStatus(sharedStatus);
  }
  window.clearTimeout(closing);
  return () => {
    listeners.delete(listener);
    if (listeners.size > 0) return;
    // Not at once: moving to another page unmounts one page's listeners as it mounts the next's.
    window.clearTimeout(closing);
    closing = window.setTimeout(() => {
      if (listeners.size > 0 || shared === undefined) return;
      shared.stop();
      shared = undefined;
      sharedStatus = 'connecting';
    }, 0);
  };
}
