import { WebSocket } from 'ws';
import { until } from './timing.ts';

/** A real WebSocket client that records what it receives, for tests and benchmarks. */
export class TestSocket {
  readonly messages: Array<Record<string, unknown>> = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  private wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Opens a socket; resolves once open, or rejects with the HTTP status that refused the upgrade. */
  static open(url: string, options: { token?: string; via?: 'header' | 'query' } = {}): Promise<TestSocket> {
    const via = options.via ?? 'header';
    const target =
      options.token !== undefined && via === 'query' ? `${url}?token=${encodeURIComponent(options.token)}` : url;
    const headers = options.token !== undefined && via === 'header' ? { authorization: `Bearer ${options.token}` } : {};
    const socket = new WebSocket(target, { headers });
    const client = new TestSocket(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      socket.once('error', reject);
    });
  }

  send(message: unknown) {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message (from `from` on) that matches, waiting up to timeoutMs for it. */
  async next(match: (m: Record<string, unknown>) => boolean, timeoutMs = 5_000, from = 0) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.closed !== undefined) throw new Error(`socket closed (${this.closed.code}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message in ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  ofType(type: string, timeoutMs?: number) {
    return this.next((m) => m.type === type, timeoutMs);
  }

  async waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    await until(() => this.closed !== undefined, timeoutMs, 'the socket closing');
    return this.closed as { code: number; reason: string };
  }

  close() {
    this.socket.close();
  }
}
