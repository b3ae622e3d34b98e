import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const WEB = import.meta.dirname;
export const WEB_DIST = join(WEB, 'dist');
const SOURCES = ['index.html', 'vite.config.ts', 'src'];

function newestChange(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestChange(join(path, name))), stat.mtimeMs);
}

/** True when web/dist is missing or older than any of the app's sources. */
export function webBuildIsStale(): boolean {
  const built = join(WEB_DIST, 'index.html');
  if (!existsSync(built)) return true;
  const sources = Math.max(...SOURCES.map((name) => newestChange(join(WEB, name))));
  return sources > statSync(built).mtimeMs;
}

/**
 * Builds into a directory of its own and then swaps it in, so a server starting meanwhile, or a
 * second build running at the same time (`npm start` beside a test run), never sees half a build.
 */
export async function buildWeb(): Promise<void> {
  const partial = `${WEB_DIST}.${process.pid}`;
  // Vite and the JSX transform take development or production from NODE_ENV, which a test runner
  // sets to "test": the build is always production's.
  const nodeEnv = process.env.NODE_ENV;
  // Loaded here, not at the top: `npm start` with a fresh build should not pay for loading Vite.
  const [{ build }, { default: config }] = await Promise.all([import('vite'), import('./vite.config.ts')]);
  process.env.NODE_ENV = 'production';
  try {
    await build({ ...config, configFile: false, logLevel: 'warn', build: { ...config.build, outDir: partial } });
    rmSync(WEB_DIST, { recursive: true, force: true });
    renameSync(partial, WEB_DIST);
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
    rmSync(partial, { recursive: true, force: true });
  }
}

export async function ensureWebBuild(): Promise<void> {
  if (webBuildIsStale()) await buildWeb();
}

// `tsx web/build.ts` builds (npm run build:web, and npm start when the build is stale: src/main.ts).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  const started = Date.now();
  await buildWeb();
  console.log(`web app built into ${WEB_DIST} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
