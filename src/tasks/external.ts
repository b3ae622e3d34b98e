import type { Redis } from 'ioredis';

/** A feed item as the API shows it. */
export interface ExternalTask {
  id: string;
  external_id: number;
  title: string;
  status: 'done' | 'todo';
  source: 'external';
}

export type FeedResult = { items: ExternalTask[]; error: null } | { items: []; error: string };

/** Where fetched feeds are kept between requests: memory for one process, Redis for several. */
export interface FeedCache {
  get(key: string): Promise<ExternalTask[] | undefined>;
  set(key: string, items: ExternalTask[], ttlMs: number): Promise<void>;
}

export class MemoryFeedCache implements FeedCache {
  private readonly entries = new Map<string, { items: ExternalTask[]; expiresAt: number }>();

  async get(key: string) {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.items;
  }

  async set(key: string, items: ExternalTask[], ttlMs: number) {
    this.entries.set(key, { items, expiresAt: Date.now() + ttlMs });
  }
}

/** Redis being away only costs a fetch: a failed read is a miss, a failed write is skipped. */
export class RedisFeedCache implements FeedCache {
  constructor(private readonly redis: Redis) {}

  async get(key: string) {
    try {
      const stored = await this.redis.get(key);
      return stored === null ? undefined : (JSON.parse(stored) as ExternalTask[]);
    } catch {
      return undefined;
    }
  }

  async set(key: string, items: ExternalTask[], ttlMs: number) {
    await this.redis.set(key, JSON.stringify(items), 'PX', ttlMs).catch(() => undefined);
  }
}

export interface ExternalFeedOptions {
  url: string;
  timeoutMs: number;
  cache: FeedCache;
  ttlMs?: number;
  maxBytes?: number;
}

class FeedError extends Error {}

const MAX_BYTES = 1024 * 1024;

/** The JSONPlaceholder todo shape; anything else in the feed is left out. */
function toExternalTask(item: unknown): ExternalTask | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const { id, title, completed } = item as Record<string, unknown>;
  if (!Number.isSafeInteger(id) || typeof title !== 'string' || typeof completed !== 'boolean') return undefined;
  return { id: `ext-${id}`, external_id: id as number, title, status: completed ? 'done' : 'todo', source: 'external' };
}

/**
 * The external todo feed, fetched with a deadline over the whole exchange and a size cap checked
 * while the body streams in (a lying or absent Content-Length cannot get past it). Successes are
 * cached; failures are not, so the next request tries again. Never throws: a failure is a result.
 */
export class ExternalFeed {
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  /** One fetch at a time: requests arriving while it runs share it. */
  private pending: Promise<FeedResult> | undefined;

  constructor(private readonly options: ExternalFeedOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxBytes = options.maxBytes ?? MAX_BYTES;
  }

  private get cacheKey() {
    return `tasks:external-feed:${this.options.url}`;
  }

  async load(): Promise<FeedResult> {
    const cached = await this.options.cache.get(this.cacheKey);
    if (cached !== undefined) return { items: cached, error: null };
    this.pending ??= this.fetchAndCache().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetchAndCache(): Promise<FeedResult> {
    try {
      const items = await this.fetch();
      await this.options.cache.set(this.cacheKey, items, this.ttlMs);
      return { items, error: null };
    } catch (error) {
      return { items: [], error: this.describe(error) };
    }
  }

  private describe(error: unknown): string {
    if (error instanceof FeedError) return error.message;
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      return `External feed did not answer within ${this.options.timeoutMs} ms.`;
    }
    const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
    return `External feed is unreachable${cause?.code === undefined ? '' : ` (${cause.code})`}.`;
  }

  private async fetch(): Promise<ExternalTask[]> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const response = await fetch(this.options.url, { signal, headers: { accept: 'application/json' } });
    if (!response.ok) {
      await response.body?.cancel();
      throw new FeedError(`External feed answered HTTP ${response.status}.`);
    }
    const text = await this.readCapped(response);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new FeedError('External feed is not valid JSON.');
    }
    if (!Array.isArray(parsed)) throw new FeedError('External feed is not a list of tasks.');
    return parsed.map(toExternalTask).filter((item) => item !== undefined);
  }

  private async readCapped(response: Response): Promise<string> {
    const tooBig = () => new FeedError(`External feed is larger than the limit of ${this.maxBytes} bytes.`);
    if (Number(response.headers.get('content-length') ?? 0) > this.maxBytes) {
      await response.body?.cancel();
      throw tooBig();
    }
    if (response.body === null) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > this.maxBytes) {
        await reader.cancel();
        throw tooBig();
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** The feed of the configuration: cached in Redis when the application has it, in memory otherwise. */
export function externalFeed(config: { externalTasksUrl: string; externalTasksTimeoutMs: number }, redis?: Redis) {
  return new ExternalFeed({
    url: config.externalTasksUrl,
    timeoutMs: config.externalTasksTimeoutMs,
    cache: redis === undefined ? new MemoryFeedCache() : new RedisFeedCache(redis),
  });
}
