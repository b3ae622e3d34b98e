import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ensureWebBuild } from '../../web/build.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../process.ts';

/**
 * What every browser test file shares: the real server process (what `npm start` runs) on a fresh
 * DATA_DIR, Debian's Chromium driven by playwright-core with one browser context per person, and
 * the helpers that make companies and people through the API and sign them in. A file calls
 * `setUpBrowserTests()` once at its top.
 */

const CHROMIUM = '/usr/bin/chromium';
// Headless in a container, with nothing fetched in the background. Playwright gives each launch a
// fresh temporary user-data-dir.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const PASSWORD = 'a-long-password-1';
/** The promise live updates make: someone else's change shows up within a second. */
export const LIVE_MS = 1_000;

export let dataDir: string;
let port: number;
export let server: ServerProcess;
let browser: Browser;
const contexts: BrowserContext[] = [];

export async function start() {
  server = startServer({
    PORT: String(port),
    DATA_DIR: dataDir,
    AUTH_RATE_LIMIT: '1000',
    LOG_LEVEL: 'warn',
    // emails go (into DATA_DIR/outbox) a second after the change, so a task's dialog can show one sent
    NOTIFICATION_DELAY_SECONDS: '1',
  });
  await waitForHealthy(server);
}

export async function stop() {
  if (server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

/**
 * The server and the browser for this file's cases; `beforeStart` prepares the DATA_DIR (the
 * embedded database is one process's at a time, so before the server opens it). A failing case
 * leaves a picture of every page behind, to see what the browser saw; each case's pages close
 * after it, and the next case opens its own.
 */
export function setUpBrowserTests({ beforeStart }: { beforeStart?: () => void } = {}) {
  beforeAll(async () => {
    await ensureWebBuild();
    dataDir = mkdtempSync(join(tmpdir(), 'tasks-e2e-'));
    port = await freePort();
    beforeStart?.();
    await start();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    if (server !== undefined) await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      const dir = mkdtempSync(join(tmpdir(), 'tasks-e2e-failure-'));
      const pages = contexts.flatMap((each) => each.pages());
      await Promise.all(
        pages.map((page, i) => page.screenshot({ path: join(dir, `page-${i}.png`) }).catch(() => undefined)),
      );
      console.error(`screenshots of the ${pages.length} pages at the failure: ${dir}`);
    }
    await Promise.all(contexts.splice(0).map((each) => each.close()));
  });
}

export async function newPage(): Promise<Page> {
  // Fixed locale, zone and size, so the committed screenshots only change when the app does.
  const context = await browser.newContext({
    baseURL: server.url,
    locale: 'en-US',
    timezoneId: 'UTC',
    viewport: { width: 1280, height: 800 },
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
/** The README's pictures are rewritten only when asked, so that a test run leaves the tree clean. */
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';

/** Into docs/screenshots, when UPDATE_SCREENSHOTS=1. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}) {
  if (!UPDATE_SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name), animations: 'disabled', ...options });
}

export interface Person {
  first: string;
  last: string;
  username: string;
}

export async function boardIsLive(page: Page) {
  await page.getByRole('heading', { name: /^To do/ }).waitFor();
  await page.locator('output.live', { hasText: 'Live' }).waitFor();
}

export const column = (page: Page, status: 'todo' | 'in_progress' | 'done') =>
  page.locator(`section[data-status="${status}"]`);
export const card = (scope: Page | Locator, title: string) => scope.locator('li.card', { hasText: title });

export async function api<T>(method: string, path: string, token?: string, body?: object): Promise<T> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export const loginByApi = async (username: string, password = PASSWORD) =>
  (await api<{ access: string }>('POST', '/api/auth/login/', undefined, { username, password })).access;

let named = 0;
/** A name no other case has used: companies, usernames and emails are unique on the server. */
export const uniqueName = (base: string) => {
  named += 1;
  return `${base}${named}`;
};
export const person = (first: string, last: string): Person => ({
  first,
  last,
  username: uniqueName(first.toLowerCase()),
});
export const emailOf = (someone: Person) => `${someone.username}@example.com`;

export interface Account {
  id: number;
  token: string;
}

const registration = (someone: Person) => ({
  username: someone.username,
  email: emailOf(someone),
  password: PASSWORD,
  password_confirm: PASSWORD,
  first_name: someone.first,
  last_name: someone.last,
});

async function registered(body: object): Promise<Account> {
  const { user, access } = await api<{ user: { id: number }; access: string }>(
    'POST',
    '/api/auth/register/',
    undefined,
    body,
  );
  return { id: user.id, token: access };
}

/** A company of its own, `admin` its admin, made through the API. */
export const companyByApi = (admin: Person, name = uniqueName('Company ')) =>
  registered({ ...registration(admin), company_name: name });

/** Invited by an admin and joined, through the API. */
export async function memberByApi(
  admin: Account,
  member: Person,
  role: 'admin' | 'member' | 'guest' = 'member',
): Promise<Account> {
  const { token } = await api<{ token: string }>('POST', '/api/auth/invitations/', admin.token, {
    email: emailOf(member),
    role,
  });
  return registered({ ...registration(member), invitation_token: token });
}

/** A new browser signed in on the login page, its board live; `prepare` runs on the page before anything loads. */
export async function signedIn(
  username: string,
  password = PASSWORD,
  prepare: (page: Page) => Promise<void> = async () => undefined,
): Promise<Page> {
  const page = await newPage();
  await prepare(page);
  await page.goto('/login');
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await boardIsLive(page);
  return page;
}

/** A company with an admin and a member, each signed in: two people watching one board. */
export async function twoColleagues() {
  const alice = person('Alice', 'Admin');
  const bob = person('Bob', 'Builder');
  const admin = await companyByApi(alice);
  const member = await memberByApi(admin, bob);
  const [pageA, pageB] = [await signedIn(alice.username), await signedIn(bob.username)];
  return { alice, bob, admin, member, pageA, pageB };
}
