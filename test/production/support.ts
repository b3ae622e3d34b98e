import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';

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
