import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/platform/db/embedded.ts';
import { ensureServerTemplate, onServer, POSTGRES_URL, templateDatabase } from './databases.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    embeddedServerUrl: string;
  }
}

/**
 * Templates of other migrations built more than a day ago: those of earlier commits, which nothing
 * will copy again. A newer one may be another branch's, whose run (a worktree's, or CI's beside a
 * developer's) is about to copy it. One a run is copying right now cannot be dropped (PostgreSQL
 * refuses while it is in use): it goes next time.
 */
async function dropStaleTemplates(server: string): Promise<void> {
  const stale = await onServer(
    async (c) =>
      (
        await c.query<{ datname: string }>(
          `SELECT datname FROM pg_database WHERE datname ~ '^tasks_tpl_[0-9a-f]{16}$' AND datname <> $1
             AND coalesce(shobj_description(oid, 'pg_database'), '') < to_char((now() - interval '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')`,
          [templateDatabase()],
        )
      ).rows,
    server,
  );
  for (const { datname } of stale) {
    await onServer((c) => c.query(`DROP DATABASE IF EXISTS ${datname}`), server).catch(() => undefined);
  }
}

/**
 * Runs once per project. The postgres project migrates a template on the server at 5432, which
 * every test file then copies. The embedded project starts one embedded PostgreSQL for the whole
 * run (the app's own server code, in a temporary directory, without fsync), with the same template.
 */
export default async function setup(project: TestProject) {
  if (project.name === 'embedded') {
    const dir = mkdtempSync(path.join(tmpdir(), 'tasks-test-embedded-'));
    const server = await startEmbeddedPostgres({ dir, durable: false });
    await ensureServerTemplate(server.url);
    project.provide('embeddedServerUrl', server.url);
    return async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  if (project.name === 'postgres') {
    await ensureServerTemplate(POSTGRES_URL);
    await dropStaleTemplates(POSTGRES_URL);
  }
}
