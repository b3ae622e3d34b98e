import type { WebSocket } from 'ws';

/** Above this much unsent data a client is not keeping up; it is dropped so it slows no one else. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A socket closed for being slow gets this long to take its close frame before it is cut. */
const SLOW_CLOSE_GRACE_MS = 5_000;

export interface Member {
  companyId: number;
  userId: number;
}

/**
 * The sockets of this process, by company. Every event for a company is serialized once and
 * written to that company's sockets only.
 */
export class Hub {
  private readonly companies = new Map<number, Map<WebSocket, Member>>();

  add(socket: WebSocket, member: Member): void {
    let sockets = this.companies.get(member.companyId);
    if (sockets === undefined) {
      sockets = new Map();
      this.companies.set(member.companyId, sockets);
    }
    sockets.set(socket, member);
  }

  remove(socket: WebSocket, companyId: number): void {
    const sockets = this.companies.get(companyId);
    if (sockets === undefined) return;
    sockets.delete(socket);
    if (sockets.size === 0) this.companies.delete(companyId);
  }

  get size(): number {
    let total = 0;
    for (const sockets of this.companies.values()) total += sockets.size;
    return total;
  }

  /** Returns how many sockets the message was written to. */
  send(companyId: number, text: string): number {
    const sockets = this.companies.get(companyId);
    if (sockets === undefined) return 0;
    let sent = 0;
    for (const socket of sockets.keys()) {
      if (socket.readyState !== socket.OPEN) continue;
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        closeSlow(socket);
        continue;
      }
      socket.send(text);
      sent += 1;
    }
    return sent;
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

function closeSlow(socket: WebSocket): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.close(1013, 'Too slow: reconnect and catch up');
  setTimeout(() => socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
}
