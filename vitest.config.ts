import { configDefaults, defineConfig } from 'vitest/config';

const E2E = 'test/e2e/**/*.test.ts';

/**
 * The whole suite runs twice: on the embedded PostgreSQL (the default without DATABASE_URL, one
 * server for the run) and on the PostgreSQL server at 5432. The browser
 * tests run once, in a project of their own: they drive a real server process, whose database
 * choice is its own (embedded, in a temporary DATA_DIR).
 */
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'embedded', env: { TEST_DB: 'embedded' }, exclude: [...configDefaults.exclude, E2E] },
      },
      {
        extends: true,
        test: { name: 'postgres', env: { TEST_DB: 'postgres' }, exclude: [...configDefaults.exclude, E2E] },
      },
      { extends: true, test: { name: 'e2e', include: [E2E], testTimeout: 60_000, hookTimeout: 180_000 } },
    ],
  },
});
