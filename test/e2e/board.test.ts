import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../web/build.ts';
import { freePort, type ServerProcess, startServer, waitForHealthy } from '../process.ts';

/**
 * The web app end to end: the real server process (what `npm start` runs) on a fresh DATA_DIR,
 * and Debian's Chromium driven by playwright-core, one browser context per person.
 */

const CHROMIUM = '/usr/bin/chromium';
// What DEVELOPERS.md prescribes. Playwright gives each launch a fresh temporary user-data-dir.
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
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const PASSWORD = 'a-long-password-1';
/** The promise this feature makes: someone else's change shows up within a second. */
const LIVE_MS = 1_000;

let dataDir: string;
let port: number;
let server: ServerProcess;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function start() {
  server = startServer({ PORT: String(port), DATA_DIR: dataDir, AUTH_RATE_LIMIT: '1000', LOG_LEVEL: 'warn' });
  await waitForHealthy(server);
}

async function stop() {
  if (server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

beforeAll(async () => {
  await ensureWebBuild();
  dataDir = mkdtempSync(join(tmpdir(), 'tasks-e2e-'));
  port = await freePort();
  await start();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
});

afterAll(async () => {
  await browser?.close();
  if (server !== undefined) await stop();
  rmSync(dataDir, { recursive: true, force: true });
});

// A failing step leaves a picture of every page behind, to see what the browser saw.
afterEach(async (context) => {
  if (context.task.result?.state !== 'fail') return;
  const dir = mkdtempSync(join(tmpdir(), 'tasks-e2e-failure-'));
  const pages = contexts.flatMap((each) => each.pages());
  await Promise.all(
    pages.map((page, i) => page.screenshot({ path: join(dir, `page-${i}.png`) }).catch(() => undefined)),
  );
  console.error(`screenshots of the ${pages.length} pages at the failure: ${dir}`);
});

async function newPage(): Promise<Page> {
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

interface Person {
  first: string;
  last: string;
  username: string;
}

async function fillRegistration(page: Page, person: Person) {
  await page.getByLabel('First name').fill(person.first);
  await page.getByLabel('Last name').fill(person.last);
  await page.getByLabel('Username').fill(person.username);
  await page.getByLabel('Email').fill(`${person.username}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
}

async function signUp(page: Page, company: string, person: Person) {
  await page.goto('/signup');
  await page.getByLabel('Company name').fill(company);
  await fillRegistration(page, person);
  await page.getByRole('button', { name: 'Create company and account' }).click();
  await boardIsLive(page);
}

async function boardIsLive(page: Page) {
  await page.getByRole('heading', { name: /^To do/ }).waitFor();
  await page.locator('output.live', { hasText: 'Live' }).waitFor();
}

const column = (page: Page, status: 'todo' | 'in_progress' | 'done') =>
  page.locator(`section[data-status="${status}"]`);
const card = (scope: Page | Locator, title: string) => scope.locator('li.card', { hasText: title });

/** Waits for a card to show up somewhere, and says how long it took. */
async function timeUntilVisible(locator: Locator, timeout: number): Promise<number> {
  const started = Date.now();
  await locator.waitFor({ timeout });
  return Date.now() - started;
}

async function api<T>(method: string, path: string, token?: string, body?: object): Promise<T> {
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

const loginByApi = async (username: string) =>
  (await api<{ access: string }>('POST', '/api/auth/login/', undefined, { username, password: PASSWORD })).access;

const alice = { first: 'Alice', last: 'Admin', username: 'alice' };
const bob = { first: 'Bob', last: 'Builder', username: 'bob' };
const carol = { first: 'Carol', last: 'Other', username: 'carol' };

describe('web app', () => {
  let pageA: Page;
  let pageB: Page;
  let pageC: Page;

  it('serves the app for client-side paths and keeps DRF 404s for unknown API paths', async () => {
    for (const path of ['/', '/login', '/accept?token=x', '/some/client/path']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    }
    for (const [method, path] of [
      ['GET', '/api/nothing-here/'],
      ['POST', '/api/nothing-here/'],
      ['GET', '/assets/missing.js'],
    ]) {
      const response = await fetch(`${server.url}${path}`, { method });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ detail: 'Not found.' });
    }
  });

  it('signs up a company, creates a task, drags it to Done, moves it by keyboard and edits it', async () => {
    pageA = await newPage();
    await signUp(pageA, 'Acme', alice);
    await expect(pageA.evaluate('localStorage.length + sessionStorage.length')).resolves.toBe(0);

    await pageA.getByRole('button', { name: 'New task' }).click();
    const create = pageA.getByRole('dialog', { name: 'New task' });
    await create.getByLabel('Title').fill('Write the launch plan');
    await create.getByLabel('Description').fill('Channels, dates and owners for the launch.');
    await create.getByLabel('Priority').selectOption('high');
    await create.getByLabel('Assignee').selectOption({ label: 'Alice Admin' });
    await create.getByLabel('Due').fill('2026-01-15T09:00');
    await create.getByRole('button', { name: 'Create task' }).click();
    const created = card(column(pageA, 'todo'), 'Write the launch plan');
    await created.waitFor();
    await expect(created.textContent()).resolves.toMatch(/High.*Overdue.*Alice Admin/);

    await pageA.dragAndDrop(
      'section[data-status="todo"] li.card:has-text("Write the launch plan")',
      'section[data-status="done"]',
    );
    await card(column(pageA, 'done'), 'Write the launch plan').waitFor();
    // Done is not overdue any more.
    await expect(card(pageA, 'Write the launch plan').textContent()).resolves.not.toContain('Overdue');

    // The session survives a reload (the refresh cookie), and the move was saved.
    await pageA.reload();
    await boardIsLive(pageA);
    const done = card(column(pageA, 'done'), 'Write the launch plan');
    await done.waitFor();

    await done.getByRole('button').focus();
    await pageA.keyboard.press('Shift+ArrowLeft');
    const inProgress = card(column(pageA, 'in_progress'), 'Write the launch plan');
    await inProgress.waitFor();
    await expect(pageA.evaluate("document.activeElement?.closest('section')?.dataset.status")).resolves.toBe(
      'in_progress',
    );

    await pageA.keyboard.press('Enter');
    const edit = pageA.getByRole('dialog', { name: 'Edit task' });
    await expect(edit.getByLabel('Title').inputValue()).resolves.toBe('Write the launch plan');
    await expect(edit.getByLabel('Status').inputValue()).resolves.toBe('in_progress');
    await edit.getByLabel('Title').fill('Write the launch plan v2');
    await edit.getByLabel('Priority').selectOption('urgent');
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'hidden' });
    await card(column(pageA, 'in_progress'), 'Write the launch plan v2').waitFor();
  });

  it('keeps filters in the URL', async () => {
    const token = await loginByApi('alice');
    await api('POST', '/api/tasks/', token, { title: 'Order office chairs', priority: 'low' });
    await card(pageA, 'Order office chairs').waitFor();

    await pageA.getByLabel('Priority').selectOption('urgent');
    await card(pageA, 'Order office chairs').waitFor({ state: 'detached' });
    expect(new URL(pageA.url()).searchParams.get('priority')).toBe('urgent');
    await pageA.getByLabel('Only mine').check();
    await pageA.reload();
    await boardIsLive(pageA);
    await card(pageA, 'Write the launch plan v2').waitFor();
    await expect(pageA.getByLabel('Priority').inputValue()).resolves.toBe('urgent');
    await expect(pageA.getByLabel('Only mine').isChecked()).resolves.toBe(true);
    await expect(card(pageA, 'Order office chairs').count()).resolves.toBe(0);

    await pageA.goto('/');
    await pageA.getByLabel('Search tasks').fill('chairs');
    await card(pageA, 'Write the launch plan v2').waitFor({ state: 'detached' });
    await card(pageA, 'Order office chairs').waitFor();
    expect(new URL(pageA.url()).searchParams.get('q')).toBe('chairs');
    await pageA.goto('/');
    await boardIsLive(pageA);
  });

  it('lets an invited colleague join, and each sees the other’s changes within a second', async () => {
    const token = await loginByApi('alice');
    const invitation = await api<{ token: string }>('POST', '/api/auth/invitations/', token, {
      email: 'bob@example.com',
      role: 'member',
    });
    pageB = await newPage();
    await pageB.goto(`/#/accept?token=${encodeURIComponent(invitation.token)}`);
    await fillRegistration(pageB, bob);
    await pageB.getByRole('button', { name: 'Join' }).click();
    await boardIsLive(pageB);
    await card(column(pageB, 'in_progress'), 'Write the launch plan v2').waitFor();

    // Alice moves a card: Bob's board follows, highlighted.
    const moved = pageA.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/tasks/'));
    await pageA.dragAndDrop(
      'section[data-status="todo"] li.card:has-text("Order office chairs")',
      'section[data-status="in_progress"]',
    );
    await moved;
    const movedMs = await timeUntilVisible(card(column(pageB, 'in_progress'), 'Order office chairs'), LIVE_MS);
    await card(pageB, 'Order office chairs').and(pageB.locator('.flash')).waitFor({ timeout: LIVE_MS });

    // Bob creates one: Alice's board has it.
    await pageB.getByRole('button', { name: 'New task' }).click();
    const dialog = pageB.getByRole('dialog', { name: 'New task' });
    await dialog.getByLabel('Title').fill('Book the venue');
    await dialog.getByLabel('Assignee').selectOption({ label: 'Bob Builder' });
    const posted = pageB.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/tasks/'));
    await dialog.getByRole('button', { name: 'Create task' }).click();
    await posted;
    const createdMs = await timeUntilVisible(card(column(pageA, 'todo'), 'Book the venue'), LIVE_MS);
    // Bob joined after Alice's board loaded: it learns his name when a task names him.
    await card(pageA, 'Book the venue').filter({ hasText: 'Bob Builder' }).waitFor({ timeout: LIVE_MS });
    expect(Math.max(movedMs, createdMs)).toBeLessThan(LIVE_MS);
  });

  it('tells an editor that someone else changed the task, instead of overwriting it', async () => {
    await card(pageA, 'Book the venue').getByRole('button').click();
    const edit = pageA.getByRole('dialog', { name: 'Edit task' });
    await expect.poll(() => edit.getByRole('button', { name: 'Save' }).isEnabled()).toBe(true);
    await edit.getByLabel('Priority').selectOption('high');

    await card(pageB, 'Book the venue').getByRole('button').focus();
    await pageB.keyboard.press('Shift+ArrowRight');
    await edit.getByText('Someone else has just changed this task.').waitFor({ timeout: LIVE_MS });

    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.getByText('Someone else changed this task after you opened it, so it was not saved.').waitFor();
    await edit.getByRole('button', { name: 'Load their version' }).click();
    await expect.poll(() => edit.getByLabel('Status').inputValue()).toBe('in_progress');
    await expect.poll(() => edit.getByRole('button', { name: 'Save' }).isEnabled()).toBe(true);
    await edit.getByLabel('Priority').selectOption('high');
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'hidden' });
    await card(column(pageB, 'in_progress'), 'Book the venue')
      .filter({ hasText: 'High' })
      .waitFor({ timeout: LIVE_MS });
  });

  it('shows another company nothing of it', async () => {
    pageC = await newPage();
    await signUp(pageC, 'Globex', carol);
    const token = await loginByApi('alice');
    await api('POST', '/api/tasks/', token, { title: 'Acme secret' });
    await card(pageA, 'Acme secret').waitFor({ timeout: LIVE_MS });
    await card(pageB, 'Acme secret').waitFor({ timeout: LIVE_MS });
    await pageC.waitForTimeout(300);
    await expect(pageC.locator('li.card').count()).resolves.toBe(0);
  });

  it('deletes after a confirmation, for everyone', async () => {
    await card(pageA, 'Acme secret').getByRole('button').focus();
    await pageA.keyboard.press('Delete');
    const confirm = pageA.getByRole('dialog', { name: 'Delete task?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect(card(pageA, 'Acme secret').count()).resolves.toBe(1);
    // Focus goes back to the card the dialog was opened from.
    await expect(pageA.evaluate('document.activeElement?.textContent')).resolves.toBe('Acme secret');

    await card(pageA, 'Acme secret').getByRole('button').click();
    await pageA.getByRole('dialog', { name: 'Edit task' }).getByRole('button', { name: 'Delete…' }).click();
    await pageA.getByRole('dialog', { name: 'Delete task?' }).getByRole('button', { name: 'Delete' }).click();
    await card(pageA, 'Acme secret').waitFor({ state: 'detached' });
    await card(pageB, 'Acme secret').waitFor({ state: 'detached', timeout: LIVE_MS });
  });

  it('reconnects after a server restart and catches up with what changed meanwhile', async () => {
    await stop();
    await pageB.locator('output.live', { hasText: 'Reconnecting' }).waitFor();
    await start();
    const token = await loginByApi('alice');
    await api('POST', '/api/tasks/', token, { title: 'Made during the outage', priority: 'urgent' });
    await card(pageB, 'Made during the outage').waitFor({ timeout: 20_000 });
    await pageB.locator('output.live', { hasText: 'Live' }).waitFor({ timeout: 20_000 });
    await card(pageA, 'Made during the outage').waitFor({ timeout: 20_000 });
  });

  it('writes screenshots of the board and the task dialog', async () => {
    const token = await loginByApi('alice');
    const people = await api<{ results: { id: number; username: string }[] }>('GET', '/api/auth/company-users/', token);
    const bobId = people.results.find((person) => person.username === 'bob')?.id;
    for (const task of [
      { title: 'Draft the press release', priority: 'high', due_date: '2099-03-02T10:00:00Z', assigned_to: bobId },
      { title: 'Review the pricing page', priority: 'medium', status: 'in_progress', due_date: '2099-02-20T16:00:00Z' },
      { title: 'Set up the status page', priority: 'low', status: 'done', assigned_to: bobId },
    ]) {
      await api('POST', '/api/tasks/', token, task);
    }
    await card(pageA, 'Set up the status page').waitFor();
    // A freshly drawn page, without highlights, so that the pictures only change when the app does.
    await pageA.reload();
    await boardIsLive(pageA);
    await card(pageA, 'Set up the status page').waitFor();
    await pageA.waitForFunction("document.querySelector('li.card.flash') === null");
    mkdirSync(SCREENSHOTS, { recursive: true });
    await pageA.screenshot({ path: join(SCREENSHOTS, 'board.png'), animations: 'disabled' });

    await card(pageA, 'Write the launch plan v2').getByRole('button').click();
    const dialog = pageA.getByRole('dialog', { name: 'Edit task' });
    await expect(dialog.getByLabel('Description').inputValue()).resolves.toContain('Channels');
    // Saving is possible once the dialog has the task's current version (its ETag).
    await expect.poll(() => dialog.getByRole('button', { name: 'Save' }).isEnabled()).toBe(true);
    await pageA.screenshot({ path: join(SCREENSHOTS, 'task-dialog.png'), animations: 'disabled' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  it('logs out, and a reload stays logged out; logging in again restores the board', async () => {
    await pageA.getByRole('button', { name: 'Log out' }).click();
    await pageA.getByRole('heading', { name: 'Log in' }).waitFor();
    await pageA.reload();
    await pageA.getByRole('heading', { name: 'Log in' }).waitFor();
    await pageA.getByLabel('Username or email').fill('alice@example.com');
    await pageA.getByLabel('Password').fill(PASSWORD);
    await pageA.getByRole('button', { name: 'Log in' }).click();
    await boardIsLive(pageA);
    await card(pageA, 'Write the launch plan v2').waitFor();
  });
});
