import type { FastifyBaseLogger } from 'fastify';
import { requireActor } from '../accounts/service.ts';
import type { Auth } from '../platform/auth.ts';
import type { Bus } from '../platform/bus.ts';
import type { Database } from '../platform/db/index.ts';
import type { TaskWrite, TaskWriteListener } from '../tasks/hooks.ts';
import type { Hub } from './hub.ts';

/** Close code for a socket whose user may no longer see the company's events. */
export const CLOSE_REMOVED = 4403;
/** Close code (Service Restart) for a socket that may have missed events: reconnect and catch up. */
export const CLOSE_CATCH_UP = 1012;

/*
 * Bus messages: "t <companyId> <event JSON>" for task events (serialized once, by the writer) and
 * "u <companyId> <userId>" for a user who must be disconnected everywhere.
 */
const TASK = 't';
const USER_REMOVED = 'u';

export class RealtimeService implements TaskWriteListener {
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

  /** The caller, if they may watch their company: with the name the welcome message shows. */
  authorize(auth: Auth): Promise<{ companyName: string }> {
    return this.db.tenant(auth.companyId, async (tx) => ({ companyName: (await requireActor(tx, auth)).companyName }));
  }

  /** Each task write, once committed, to the company's sockets: `task_created` and so on, with the task. */
  async afterCommit({ kind, companyId, before, after }: TaskWrite) {
    const event = { type: `task_${kind}`, task: after ?? before };
    await this.bus.publish(`${TASK} ${companyId} ${JSON.stringify(event)}`);
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
    if (kind === TASK) this.onDelivered(this.hub.send(companyId, rest));
    else if (kind === USER_REMOVED)
      this.hub.disconnectUser(companyId, Number(rest), CLOSE_REMOVED, 'Removed from the company');
  }
}
