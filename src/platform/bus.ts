import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/**
 * Fan-out of events to every process of the service. Messages are strings; what they mean is the
 * subscriber's business. Each process subscribes once, whatever number of sockets it serves.
 */
export interface Bus {
  publish(message: string): Promise<void>;
  subscribe(handler: (message: string) => void): void;
  /**
   * Called each time delivery from the other processes starts, and again after it was cut, with
   * the moment since when it was not working: what they published in the meantime is lost, so
   * whoever relies on seeing all of it must catch up from there.
   */
  onResumed(handler: (cutSince: Date) => void): void;
  close(): Promise<void>;
}

/** One process: a publish reaches this process's subscribers only. */
export class InProcessBus implements Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(message: string): Promise<void> {
    this.emitter.emit('message', message);
  }

  subscribe(handler: (message: string) => void): void {
    this.emitter.on('message', handler);
  }

  onResumed(): void {
    // one process: nothing can come between a publish and its delivery
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

const CHANNEL = 'tasks:events';

/**
 * A connection's end is noticed after the fact (a busy event loop, a slow FIN), and what the other
 * processes published in between is lost too: the cut is reported as starting this much earlier.
 */
export const CUT_NOTICED_LATE_MS = 1000;

/**
 * Several processes through Redis pub/sub: one subscription per process. A publish reaches this
 * process's subscribers at once, without a round trip through Redis, and the other processes
 * through it: so sockets on the writer's process never depend on Redis, neither while it is away
 * nor in the moments after it returns, when the connection that publishes may be back before the
 * one that subscribes. Each message carries its origin so that a process skips its own echo.
 */
export class RedisBus implements Bus {
  private readonly local = new InProcessBus();
  private readonly subscriber: Redis;
  private readonly origin = randomBytes(8).toString('hex');
  private failing = false;
  private readonly resumed = new EventEmitter();
  // Nothing from the other processes arrives until the first subscription is in place.
  private cutSince: Date | undefined = new Date();

  constructor(
    private readonly publisher: Redis,
    private readonly log: { warn(context: object, message: string): void; info(message: string): void },
  ) {
    // The subscription waits for a connection rather than failing, and is renewed on every reconnect.
    this.subscriber = publisher.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => {
      // the publisher's handler already reports Redis being away
    });
    // Subscribing on every connection, though ioredis subscribes again by itself after a
    // reconnect, is how to know when that is done: it says nothing of it. Failing means the
    // connection dropped again, and the next one tries again.
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(CHANNEL).then(
        () => {
          const since = this.cutSince;
          this.cutSince = undefined;
          if (since !== undefined) this.resumed.emit('resumed', since);
        },
        () => undefined,
      );
    });
    this.subscriber.on('close', () => {
      this.cutSince ??= new Date(Date.now() - CUT_NOTICED_LATE_MS);
    });
    this.subscriber.on('message', (_channel: string, message: string) => {
      const space = message.indexOf(' ');
      if (space < 0 || message.slice(0, space) === this.origin) return;
      void this.local.publish(message.slice(space + 1));
    });
  }

  async publish(message: string): Promise<void> {
    await this.local.publish(message);
    try {
      await this.publisher.publish(CHANNEL, `${this.origin} ${message}`);
      if (this.failing) this.log.info('redis publish works again: events reach the other processes');
      this.failing = false;
    } catch (error) {
      // Once per outage: every write would otherwise log the same thing.
      if (!this.failing) this.log.warn({ err: error }, 'redis publish failed: events reach this process only');
      this.failing = true;
    }
  }

  subscribe(handler: (message: string) => void): void {
    this.local.subscribe(handler);
  }

  onResumed(handler: (cutSince: Date) => void): void {
    this.resumed.on('resumed', handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    await this.local.close();
  }
}
