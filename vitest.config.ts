import { configDefaults, defineConfig } from 'vitest/config';

const E2E = 'test/e2e/**/*.test.ts';
/**
 * Tests that start real processes (the entry point, the CLI, workers, servers stopped and
 * restarted) or hammer the app for a minute: `npm run test:fast` (TEST_FAST=1) leaves them out.
 * A new test of that kind goes in test/production/ or in a file named processes.test.ts.
 */
const PROCESSES = ['test/production/**', 'src/**/processes.test.ts', 'src/main.test.ts', 'src/cli.test.ts'];
const exclude = [...configDefaults.exclude, E2E, ...(process.env.TEST_FAST === '1' ? PROCESSES : [])];

/**
 * The whole suite runs twice: on the embedded PostgreSQL (the default without DATABASE_URL, one
 * server for the run) and on the PostgreSQL server at 5432. The browser
 * tests run once, in a project of their own: they drive a real server process, whose database
 * choice is its own (embedded, in a temporary DATA_DIR).
 */
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'embedded', env: { TEST_DB: 'embedded' }, exclude },
      },
      {
        extends: true,
        test: { name: 'postgres', env: { TEST_DB: 'postgres' }, exclude },
      },
      { extends: true, test: { name: 'e2e', include: [E2E], testTimeout: 60_000, hookTimeout: 180_000 } },
    ],
  },
});
