import type { FastifyBaseLogger } from 'fastify';
import { requireActor } from '../accounts/service.ts';
import type { CommentWrite, CommentWriteListener } from '../comments/hooks.ts';
import type { InboxEvents } from '../inbox/hooks.ts';
import type { Auth } from '../platform/auth.ts';
import type { Bus } from '../platform/bus.ts';
import type { Database } from '../platform/db/index.ts';
import type { ProjectEvents } from '../projects/hooks.ts';
import { allProjectIds, projectsSeenBy, visibleProjectIds } from '../projects/service.ts';
import type { TaskWrite, TaskWriteListener } from '../tasks/hooks.ts';
import type { Task } from '../tasks/schemas.ts';
import type { Hub, Member } from './hub.ts';

/** Close code for a socket whose user may no longer see the company's events. */
export const CLOSE_REMOVED = 4403;
/** Close code (Service Restart) for a socket that may have missed events: reconnect and catch up. */
export const CLOSE_CATCH_UP = 1012;

/*
 * Bus messages: "p <companyId> <projectId> <event JSON>" for the events of a project (its tasks,
 * itself, its statuses: serialized once, by the writer; several events, one a line, when one
 * change moved many tasks), "c <companyId> <event JSON>" for the whole
 * company (labels), "v <companyId> <userId, or 0 for all>" when who sees which project changed,
 * "u <companyId> <userId>" for a user who must be disconnected everywhere, and
 * "i <companyId> <userId> <event JSON>" for one user's sockets (their inbox items, one a line).
 */
const PROJECT = 'p';
const COMPANY = 'c';
const VISIBILITY = 'v';
const USER_REMOVED = 'u';
const TO_USER = 'i';
/** Task events in one bus message at most: some 300 KB, whatever the number of tasks a change moved. */
const EVENTS_PER_MESSAGE = 500;

export class RealtimeService implements TaskWriteListener, ProjectEvents, CommentWriteListener, InboxEvents {
  /** Told how many sockets each delivered event reached: the app's metrics. */
  onDelivered: (sockets: number) => void = () => {};

  constructor(
    private readonly db: Database,
    private readonly bus: Bus,
    private readonly hub: Hub,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    bus.subscribe((message) => this.deliver(message));
    // A socket open while other processes' events could not reach this one has missed some and
    // cannot tell: it is told since when, and closed so that any client reconnects and catches up
    // (updated_after, deleted ids). A client that saw this process's own events meanwhile must
    // catch up from that moment, not from the last event it saw.
    bus.onResumed((cutSince) => {
      const sockets = this.hub.size;
      if (sockets === 0) return;
      const missed = JSON.stringify({ type: 'events_missed', since: cutSince.toISOString() });
      this.hub.forEach((socket) => {
        if (socket.readyState === socket.OPEN) socket.send(missed);
        socket.close(CLOSE_CATCH_UP, 'Live updates were interrupted: reconnect and catch up');
      });
      this.log.warn({ sockets }, 'events from other processes were cut off: sockets told to reconnect and catch up');
    });
  }

  /** The caller, if they may watch their company: with the name the welcome message shows and the projects they see. */
  authorize(auth: Auth): Promise<{ companyName: string; sees: Member['sees'] }> {
    return this.db.tenant(auth, async (tx) => ({
      companyName: (await requireActor(tx, auth)).companyName,
      sees: await visibleProjectIds(tx, auth),
    }));
  }

  /**
   * Each task write, once committed, to the sockets of those who see its project: `task_created`
   * and so on, one frame each; the writes of one change go in a few bus messages, not one each.
   */
  async afterCommit(writes: readonly TaskWrite[]) {
    await this.publishLines(
      PROJECT,
      writes.map(({ kind, companyId, before, after }) => {
        const task = (after ?? before) as Task;
        return [`${companyId} ${task.project}`, { type: `task_${kind}`, task }];
      }),
    );
  }

  /**
   * Events under their bus address (`kind` and the key after it), those of one address in a few
   * bus messages of one event a line (JSON.stringify writes no raw line break), not one each.
   */
  private async publishLines(kind: string, events: ReadonlyArray<readonly [string, object]>) {
    const byKey = new Map<string, string[]>();
    for (const [key, event] of events) {
      const lines = byKey.get(key) ?? [];
      lines.push(JSON.stringify(event));
      byKey.set(key, lines);
    }
    for (const [key, lines] of byKey) {
      for (let i = 0; i < lines.length; i += EVENTS_PER_MESSAGE) {
        await this.bus.publish(`${kind} ${key} ${lines.slice(i, i + EVENTS_PER_MESSAGE).join('\n')}`);
      }
    }
  }

  /** A comment written, once committed: to the sockets of those who see its task's project. */
  async commentCommitted({ kind, companyId, task, comment }: CommentWrite) {
    const event =
      kind === 'deleted'
        ? { type: 'comment_deleted', comment: { id: comment.id, task: comment.task } }
        : { type: `comment_${kind}`, comment };
    await this.projectEvent(companyId, task.project, event);
  }

  /**
   * Each item to its recipient's sockets only; a recipient's items in a few bus messages, as task
   * events are (a hub task done gives its assignee thousands at once).
   */
  async inboxItems(companyId: number, items: ReadonlyArray<{ userId: number; item: object }>) {
    await this.publishLines(
      TO_USER,
      items.map(({ userId, item }) => [`${companyId} ${userId}`, { type: 'inbox_item', item }]),
    );
  }

  async projectEvent(companyId: number, projectId: number, event: object) {
    await this.bus.publish(`${PROJECT} ${companyId} ${projectId} ${JSON.stringify(event)}`);
  }

  async companyEvent(companyId: number, event: object) {
    await this.bus.publish(`${COMPANY} ${companyId} ${JSON.stringify(event)}`);
  }

  async visibilityChanged(companyId: number, userId?: number) {
    await this.bus.publish(`${VISIBILITY} ${companyId} ${userId ?? 0}`);
  }

  /**
   * Reads again which projects these users see, for their sockets here, one user's reads in the
   * order their messages came; and tells each user's sockets what changed for them at once: a
   * project they see no more as `project_deleted` (their board drops it), a project they now see as
   * `project_updated`.
   */
  private refreshSees(companyId: number, userId: number): void {
    const users = userId === 0 ? this.hub.usersOf(companyId) : this.hub.usersOf(companyId).filter((u) => u === userId);
    for (const user of users) {
      const key = `${companyId}:${user}`;
      const next = (this.refreshing.get(key) ?? Promise.resolve()).then(() => this.refreshOne(companyId, user));
      this.refreshing.set(key, next);
      void next.finally(() => {
        if (this.refreshing.get(key) === next) this.refreshing.delete(key);
      });
    }
  }

  private readonly refreshing = new Map<string, Promise<void>>();

  private async refreshOne(companyId: number, userId: number): Promise<void> {
    const before = this.hub.seesOf(companyId, userId);
    if (before === undefined) return;
    const auth = { companyId, userId };
    try {
      const { sees, gained } = await this.db.tenant(auth, async (tx) => {
        const sees = await visibleProjectIds(tx, auth);
        if (before === 'all') return { sees, gained: [] };
        const now = sees === 'all' ? await allProjectIds(tx, companyId) : [...sees];
        return {
          sees,
          gained: await projectsSeenBy(
            tx,
            auth,
            now.filter((id) => !before.has(id)),
          ),
        };
      });
      let lost: number[] = [];
      if (sees !== 'all') {
        const was = before === 'all' ? await this.db.tenant(companyId, (tx) => allProjectIds(tx, companyId)) : before;
        lost = [...was].filter((id) => !sees.has(id));
      }
      this.hub.setSees(companyId, userId, sees);
      for (const id of lost) {
        this.onDelivered(
          this.hub.sendToUser(companyId, userId, JSON.stringify({ type: 'project_deleted', project: { id } })),
        );
      }
      for (const project of gained) {
        this.onDelivered(this.hub.sendToUser(companyId, userId, JSON.stringify({ type: 'project_updated', project })));
      }
    } catch (error) {
      // A user removed meanwhile is disconnected by their own message; they see nothing until then.
      this.hub.setSees(companyId, userId, new Set());
      this.log.warn({ err: error, companyId, userId }, 'could not read the projects a user sees');
    }
  }

  async roleChanged(companyId: number, userId: number) {
    await this.visibilityChanged(companyId, userId);
  }

  async userRemoved(companyId: number, userId: number) {
    await this.bus.publish(`${USER_REMOVED} ${companyId} ${userId}`);
  }

  private deliver(message: string): void {
    const first = message.indexOf(' ');
    const second = message.indexOf(' ', first + 1);
    const kind = message.slice(0, first);
    const companyId = Number(message.slice(first + 1, second));
    const rest = message.slice(second + 1);
    if (!Number.isSafeInteger(companyId) || second < 0) {
      this.log.warn({ message: message.slice(0, 100) }, 'malformed bus message');
      return;
    }
    if (kind === PROJECT) {
      const space = rest.indexOf(' ');
      const projectId = Number(rest.slice(0, space));
      for (const event of rest.slice(space + 1).split('\n'))
        this.onDelivered(this.hub.send(companyId, event, projectId));
    } else if (kind === TO_USER) {
      const space = rest.indexOf(' ');
      const userId = Number(rest.slice(0, space));
      for (const event of rest.slice(space + 1).split('\n'))
        this.onDelivered(this.hub.sendToUser(companyId, userId, event));
    } else if (kind === COMPANY) this.onDelivered(this.hub.send(companyId, rest));
    else if (kind === VISIBILITY) void this.refreshSees(companyId, Number(rest));
    else if (kind === USER_REMOVED)
      this.hub.disconnectUser(companyId, Number(rest), CLOSE_REMOVED, 'Removed from the company');
  }
}
