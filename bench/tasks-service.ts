import type { Database } from '../src/platform/db/index.ts';
import { ExternalFeed, MemoryFeedCache } from '../src/tasks/external.ts';
import { TasksService } from '../src/tasks/service.ts';

/**
 * The task service as the API runs it, for running an endpoint's SQL without HTTP. Its events go
 * to sockets, not to the database, and the writes the benchmarks make change no assignee or
 * status, so neither has anything to add to the SQL.
 */
export const sqlOnlyTasksService = (db: Database) =>
  new TasksService(db, new ExternalFeed({ url: 'http://127.0.0.1:9/', timeoutMs: 1, cache: new MemoryFeedCache() }));
