import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestContext,
  json,
  registerCompany,
  type Session,
  type TestContext,
  testConfig,
} from '../../test/helpers.ts';
import { sleep } from '../../test/timing.ts';
import { buildApp } from '../app.ts';
import { createServices } from '../services.ts';
import { ExternalFeed, MemoryFeedCache, RedisFeedCache } from './external.ts';

const TIMEOUT_MS = 300;
const todos = [
  { userId: 1, id: 1, title: 'delectus aut autem', completed: false },
  { userId: 1, id: 2, title: 'quis ut nam', completed: true },
];

/** A stand-in for the feed on loopback: each path misbehaves in its own way. */
let server: Server;
let base: string;
const hits = new Map<string, number>();
const timers = new Set<NodeJS.Timeout>();

function answer(path: string, res: import('node:http').ServerResponse) {
  const json = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };
  switch (path) {
    case '/ok':
    case '/cached':
      return json(200, JSON.stringify(todos));
    case '/mixed':
      return json(200, JSON.stringify([...todos, { id: 'x', title: 1 }, null, { id: 3, title: 'no completed' }]));
    case '/error':
      return json(500, '{"detail": "boom"}');
    case '/slow':
      timers.add(setTimeout(() => json(200, JSON.stringify(todos)), TIMEOUT_MS * 10));
      return;
    case '/stalls':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      timers.add(setTimeout(() => res.end(']'), TIMEOUT_MS * 10));
      return;
    case '/invalid':
      return json(200, '[{"id": 1, "title": "cut off"');
    case '/object':
      return json(200, '{"todos": []}');
    case '/huge': {
      // 5 MB of valid JSON, streamed without a Content-Length
      res.writeHead(200, { 'content-type': 'application/json' });
      const item = `${JSON.stringify({ userId: 1, id: 1, title: 'x'.repeat(1000), completed: false })},`;
      res.write('[');
      for (let i = 0; i < 5 * 1024; i++) res.write(item);
      return res.end('{"userId":1,"id":2,"title":"last","completed":true}]');
    }
    case '/huge-declared':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(5 * 1024 * 1024) });
      return res.end();
    default:
      return json(404, '{}');
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    hits.set(url, (hits.get(url) ?? 0) + 1);
    answer(url.split('?')[0] ?? '/', res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const timer of timers) clearTimeout(timer);
  server.closeAllConnections();
  server.close();
});

describe('GET /api/tasks/external-tasks/', () => {
  let ctx: TestContext;
  let session: Session;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    session = await registerCompany(ctx.app);
    for (const title of ['Local one', 'Local two']) {
      await ctx.app.inject({ method: 'POST', url: '/api/tasks/', headers: bearer(session.access), payload: { title } });
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await ctx.close();
  });

  /** An application on the same database whose feed is the given path of the local server. */
  async function feedAt(path: string) {
    const app = await buildApp(
      createServices(
        testConfig({ externalTasksUrl: `${base}${path}`, externalTasksTimeoutMs: TIMEOUT_MS }),
        ctx.db,
        ctx.jobs,
      ),
    );
    apps.push(app);
    return (query = '') => app.inject({ url: `/api/tasks/external-tasks/${query}`, headers: bearer(session.access) });
  }

  type Answer = {
    results: Array<Record<string, unknown>>;
    local_count: number;
    external_count: number;
    external_error: string | null;
  };

  it('merges the local tasks and the feed’s, each marked with its source', async () => {
    const response = await (await feedAt('/ok'))();
    expect(response.statusCode).toBe(200);
    const body = json<Answer>(response);
    expect(body.local_count).toBe(2);
    expect(body.external_count).toBe(2);
    expect(body.external_error).toBeNull();
    expect(body.results.slice(0, 2).map((t) => [t.title, t.source])).toEqual([
      ['Local two', 'local'],
      ['Local one', 'local'],
    ]);
    expect(body.results[0]).toHaveProperty('company', session.user.company.id);
    expect(body.results.slice(2)).toEqual([
      { id: 'ext-1', external_id: 1, title: 'delectus aut autem', status: 'todo', source: 'external' },
      { id: 'ext-2', external_id: 2, title: 'quis ut nam', status: 'done', source: 'external' },
    ]);
  });

  it('applies the list’s filters and paging to the local part', async () => {
    const body = json<Answer>(await (await feedAt('/ok'))('?page_size=1&ordering=created_at'));
    expect(body.results.filter((t) => t.source === 'local').map((t) => t.title)).toEqual(['Local one']);
    expect((await (await feedAt('/ok'))('?status=nope')).statusCode).toBe(400);
  });

  it('leaves out feed items that are not todos', async () => {
    const body = json<Answer>(await (await feedAt('/mixed'))());
    expect(body.external_count).toBe(2);
    expect(body.external_error).toBeNull();
  });

  it('caches the feed for a while', async () => {
    const get = await feedAt('/cached');
    await get();
    await get();
    await Promise.all([get(), get()]);
    expect(hits.get('/cached')).toBe(1);
  });

  it.each([
    ['/error', /HTTP 500/],
    ['/slow', new RegExp(`within ${TIMEOUT_MS} ms`)],
    ['/stalls', new RegExp(`within ${TIMEOUT_MS} ms`)],
    ['/invalid', /not valid JSON/],
    ['/object', /not a list/],
    ['/huge', /larger than/],
    ['/huge-declared', /larger than/],
  ])('answers 200 with the local tasks when the feed at %s fails', async (path, error) => {
    const started = Date.now();
    const response = await (await feedAt(path))();
    expect(response.statusCode).toBe(200);
    const body = json<Answer>(response);
    expect(body.local_count).toBe(2);
    expect(body.external_count).toBe(0);
    expect(body.results.every((t) => t.source === 'local')).toBe(true);
    expect(body.external_error).toMatch(error);
    // generous: the timeout is 300 ms, the slow answers come after 3 s
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('answers 200 when nothing listens at the feed’s address', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    closed.close();
    const app = await buildApp(
      createServices(testConfig({ externalTasksUrl: `http://127.0.0.1:${port}/` }), ctx.db, ctx.jobs),
    );
    apps.push(app);
    const body = json<Answer>(await app.inject({ url: '/api/tasks/external-tasks/', headers: bearer(session.access) }));
    expect(body.external_error).toMatch(/unreachable/);
    expect(body.local_count).toBe(2);
  });

  it('needs credentials', async () => {
    expect((await ctx.app.inject({ url: '/api/tasks/external-tasks/' })).statusCode).toBe(401);
  });
});

describe('the feed’s cache', () => {
  it('expires', async () => {
    const feed = new ExternalFeed({
      url: `${base}/ok?expiry`,
      timeoutMs: TIMEOUT_MS,
      cache: new MemoryFeedCache(),
      ttlMs: 50,
    });
    await feed.load();
    await feed.load();
    expect(hits.get('/ok?expiry')).toBe(1);
    await sleep(100);
    await feed.load();
    expect(hits.get('/ok?expiry')).toBe(2);
  });

  it('is shared through Redis between processes', async () => {
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    try {
      const url = `${base}/ok?redis-${Date.now()}`;
      const one = new ExternalFeed({ url, timeoutMs: TIMEOUT_MS, cache: new RedisFeedCache(redis) });
      const two = new ExternalFeed({ url, timeoutMs: TIMEOUT_MS, cache: new RedisFeedCache(redis) });
      expect((await one.load()).items).toHaveLength(2);
      expect(await two.load()).toEqual(await one.load());
      expect(hits.get(url.slice(base.length))).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('falls back to fetching when Redis is away', async () => {
    const redis = new Redis('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    redis.on('error', () => {});
    try {
      const feed = new ExternalFeed({
        url: `${base}/ok?no-redis`,
        timeoutMs: TIMEOUT_MS,
        cache: new RedisFeedCache(redis),
      });
      expect(await feed.load()).toEqual({ items: expect.any(Array), error: null });
    } finally {
      redis.disconnect();
    }
  });
});
