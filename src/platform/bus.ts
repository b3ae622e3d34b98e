import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

/**
 * Fan-out of events to every process of the service. Messages are strings; what they mean is the
 * subscriber's business. Each process subscribes once, whatever number of sockets it serves.
 */
export interface Bus {
  publish(message: string): Promise<void>;
  subscribe(handler: (message: string) => void): void;
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

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

const CHANNEL = 'tasks:events';

/**
 * Several processes through Redis pub/sub: one subscription per process. While Redis is away a
 * publish is delivered in this process only, so sockets on the writer's process stay live.
 */
export class RedisBus implements Bus {
  private readonly local = new InProcessBus();
  private readonly subscriber: Redis;

  constructor(
    private readonly publisher: Redis,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    // The subscription waits for a connection rather than failing, and is renewed on every reconnect.
    this.subscriber = publisher.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => {
      // the publisher's handler already reports Redis being away
    });
    void this.subscriber.subscribe(CHANNEL);
    this.subscriber.on('message', (_channel: string, message: string) => {
      void this.local.publish(message);
    });
  }

  async publish(message: string): Promise<void> {
    try {
      await this.publisher.publish(CHANNEL, message);
    } catch (error) {
      this.log.warn({ err: error }, 'redis publish failed: delivering in this process only');
      await this.local.publish(message);
    }
  }

  subscribe(handler: (message: string) => void): void {
    this.local.subscribe(handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    await this.local.close();
  }
}
