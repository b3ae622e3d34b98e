import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';

/** mulberry32: small, fast and the same on every machine, so a seed reproduces a run. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

/** The seed of a run: FUZZ_SEED when given (to reproduce a failure), else a fixed one. */
export function fuzzSeed(fallback: number): number {
  const given = process.env.FUZZ_SEED;
  return given === undefined || given === '' ? fallback : Number(given);
}

export interface Route {
  /** find-my-way's pattern: `/api/tasks/:id`, `*` for a wildcard. */
  path: string;
  methods: string[];
}

/**
 * Every route the app has, read from its own router (printRoutes), so routes added later are
 * fuzzed without anyone updating a list.
 */
export function routesOf(app: FastifyInstance): Route[] {
  const printed = app.printRoutes({ commonPrefix: false });
  const prefixes: string[] = [];
  const routes: Route[] = [];
  for (const line of printed.split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] ?? '').length / 4;
    prefixes.length = depth;
    const path = (depth > 0 ? (prefixes[depth - 1] ?? '') : '') + (match[2] ?? '');
    prefixes[depth] = path;
    if (match[3] !== undefined) routes.push({ path, methods: match[3].split(', ') });
  }
  return routes;
}

/** The OpenAPI path of a router pattern: `/api/tasks/:id` → `/api/tasks/{id}/`. */
export const openApiPath = (pattern: string) => `${pattern.replace(/:(\w+)/g, '{$1}')}/`.replace(/\/\/$/, '/');

/**
 * DRF's error shapes: `{"detail": "..."}` (with extra keys such as SimpleJWT's `code`), or
 * `{"field": ["message", ...]}`. Returns why a body is not one of them, or undefined when it is.
 */
export function drfShapeProblem(contentType: string | undefined, body: string): string | undefined {
  if (!/^application\/json\b/.test(contentType ?? '')) return `content-type ${String(contentType)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'body is not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'body is not an object';
  const entries = Object.entries(parsed);
  if (entries.length === 0) return 'empty object';
  if ('detail' in parsed) return typeof parsed.detail === 'string' ? undefined : 'detail is not a string';
  for (const [field, messages] of entries) {
    if (!Array.isArray(messages) || messages.length === 0 || !messages.every((m) => typeof m === 'string')) {
      return `field ${field} is not a list of messages`;
    }
  }
  return undefined;
}

/** What must never reach a client: stack frames, file paths, SQL or driver text. */
export const LEAK =
  /\bat .+\(.+:\d+:\d+\)|node_modules|\/work\/|\.ts:\d+|\b(?:SELECT|INSERT|UPDATE|DELETE) .*\b(?:FROM|INTO|SET)\b|relation "|syntax error at|violates .* constraint|duplicate key/;

/** global.gc, exposed at run time when node was not started with --expose-gc. */
export function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing !== undefined) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** heapUsed in MB after full collections, so garbage does not count as growth. */
export function settledHeapMb(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}
