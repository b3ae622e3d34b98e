import { configDefaults, defineConfig } from 'vitest/config';

const E2E = 'test/e2e/**/*.test.ts';

/**
 * The whole suite runs twice: on embedded PGlite and on the real PostgreSQL server. The browser
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
        test: { name: 'pglite', env: { TEST_DB: 'pglite' }, exclude: [...configDefaults.exclude, E2E] },
      },
      {
        extends: true,
        test: { name: 'postgres', env: { TEST_DB: 'postgres' }, exclude: [...configDefaults.exclude, E2E] },
      },
      { extends: true, test: { name: 'e2e', include: [E2E], testTimeout: 60_000, hookTimeout: 180_000 } },
    ],
  },
});
