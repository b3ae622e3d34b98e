import type { WebSocket } from 'ws';

/** Above this much unsent data a client is not keeping up; it is dropped so it slows no one else. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A socket closed for being slow gets this long to take its close frame before it is cut. */
const SLOW_CLOSE_GRACE_MS = 5_000;

/** Close code for a socket pushed out by its user's newer ones (as HTTP's 429). */
export const CLOSE_TOO_MANY = 4429;

export interface Member {
  companyId: number;
  userId: number;
  /** The projects whose events the user gets ('all': a company admin), kept current by setSees. */
  sees: 'all' | ReadonlySet<number>;
}

/**
 * The sockets of this process, by company. Every event for a company is serialized once and
 * written to that company's sockets only.
 */
export class Hub {
  private readonly companies = new Map<number, Map<WebSocket, Member>>();
  /** Each user's sockets, oldest first. */
  private readonly users = new Map<string, Set<WebSocket>>();

  /**
   * Adds a socket; when its user already holds `maxPerUser` open ones here, the oldest are closed
   * with 4429 (a browser's forgotten tabs, a leaking client), so the newest always works.
   */
  add(socket: WebSocket, member: Member, maxPerUser = Number.POSITIVE_INFINITY): void {
    let sockets = this.companies.get(member.companyId);
    if (sockets === undefined) {
      sockets = new Map();
      this.companies.set(member.companyId, sockets);
    }
    sockets.set(socket, member);
    const key = userKey(member);
    let theirs = this.users.get(key);
    if (theirs === undefined) {
      theirs = new Set();
      this.users.set(key, theirs);
    }
    theirs.add(socket);
    // Sets keep insertion order: the first is the oldest.
    for (const oldest of theirs) {
      if (theirs.size <= maxPerUser) break;
      oldest.close(CLOSE_TOO_MANY, `Over ${maxPerUser} connections for this user: the oldest is closed`);
      this.remove(oldest, member.companyId);
    }
  }

  remove(socket: WebSocket, companyId: number): void {
    const sockets = this.companies.get(companyId);
    const member = sockets?.get(socket);
    if (sockets === undefined || member === undefined) return;
    sockets.delete(socket);
    const key = userKey(member);
    const theirs = this.users.get(key);
    theirs?.delete(socket);
    if (theirs?.size === 0) this.users.delete(key);
    if (sockets.size === 0) this.companies.delete(companyId);
  }

  get size(): number {
    let total = 0;
    for (const sockets of this.companies.values()) total += sockets.size;
    return total;
  }

  /** Returns how many sockets the message was written to; with a project, only those of users who see it. */
  send(companyId: number, text: string, projectId?: number): number {
    return this.write(
      companyId,
      text,
      (member) => projectId === undefined || member.sees === 'all' || member.sees.has(projectId),
    );
  }

  /** Writes a message to one user's sockets here. */
  sendToUser(companyId: number, userId: number, text: string): number {
    return this.write(companyId, text, (member) => member.userId === userId);
  }

  private write(companyId: number, text: string, wants: (member: Member) => boolean): number {
    const sockets = this.companies.get(companyId);
    if (sockets === undefined) return 0;
    let sent = 0;
    for (const [socket, member] of sockets) {
      if (socket.readyState !== socket.OPEN || !wants(member)) continue;
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        closeSlow(socket);
        continue;
      }
      socket.send(text);
      sent += 1;
    }
    return sent;
  }

  /** The users of a company with sockets here. */
  usersOf(companyId: number): number[] {
    return [...new Set([...(this.companies.get(companyId)?.values() ?? [])].map((m) => m.userId))];
  }

  /** What one user's sockets here get (undefined: they have none). */
  seesOf(companyId: number, userId: number): Member['sees'] | undefined {
    for (const member of this.companies.get(companyId)?.values() ?? []) {
      if (member.userId === userId) return member.sees;
    }
    return undefined;
  }

  /** A user's projects changed: their sockets' events follow at once, without reconnecting. */
  setSees(companyId: number, userId: number, sees: Member['sees']): void {
    for (const member of this.companies.get(companyId)?.values() ?? []) {
      if (member.userId === userId) member.sees = sees;
    }
  }

  /** Closes the sockets of one user of a company (removed from it, or deactivated). */
  disconnectUser(companyId: number, userId: number, code: number, reason: string): void {
    for (const [socket, member] of this.companies.get(companyId) ?? []) {
      if (member.userId === userId) socket.close(code, reason);
    }
  }

  forEach(fn: (socket: WebSocket, member: Member) => void): void {
    for (const sockets of this.companies.values()) for (const [socket, member] of sockets) fn(socket, member);
  }
}

const userKey = (member: Member) => `${member.companyId}:${member.userId}`;

function closeSlow(socket: WebSocket): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.close(1013, 'Too slow: reconnect and catch up');
  setTimeout(() => socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
}
