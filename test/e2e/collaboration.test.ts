import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { api, card, LIVE_MS, screenshot, setUpBrowserTests, twoColleagues } from './harness.ts';

/** Comments, mentions, the inbox and attachments, between two people in two browsers. */

setUpBrowserTests();

/** A 2×2 PNG: the server tells its type from these bytes, and the browser draws it. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEUlEQVR4nGP4zwAEIOI/EAAAHu8F+0huP94AAAAASUVORK5CYII=',
  'base64',
);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface TaskAnswer {
  id: number;
  ref: string;
  comment_count: number;
  attachment_count: number;
  is_watching: boolean;
}

const bell = (page: Page) => page.getByRole('button', { name: /^Inbox,/ });
const comments = (page: Page) => page.getByRole('dialog', { name: 'Edit task' }).locator('.comment-list > li');

describe('collaboration', () => {
  it('mentions a colleague, whose bell rises live; the reply arrives live; an uploaded image reaches the other’s open task live and downloads intact', async () => {
    const { admin, member, bob, pageA, pageB } = await twoColleagues();
    const task = await api<TaskAnswer>('POST', '/api/tasks/', admin.token, { title: 'Draft the release notes' });
    await card(pageA, 'Draft the release notes').waitFor();
    await expect(bell(pageB).getAttribute('aria-label')).resolves.toBe('Inbox, nothing unread');

    // A writes a comment, picking B from the @-suggestions with the keyboard, and previews it.
    await card(pageA, 'Draft the release notes').getByRole('button').first().click();
    const dialogA = pageA.getByRole('dialog', { name: 'Edit task' });
    const box = dialogA.getByLabel('Add a comment');
    await box.pressSequentially(`Could you check these **today**, @${bob.username.slice(0, 2)}`);
    const suggestions = dialogA.getByRole('listbox', { name: 'People to mention', includeHidden: true });
    await suggestions.getByRole('option', { name: new RegExp(`@${bob.username}\\b`) }).waitFor();
    await expect(box.getAttribute('aria-expanded')).resolves.toBe('true');
    // Escape closes the suggestions, not the dialog; typing on opens them again.
    await box.press('Escape');
    await expect(box.getAttribute('aria-expanded')).resolves.toBe('false');
    await expect(dialogA.isVisible()).resolves.toBe(true);
    await box.pressSequentially(bob.username.slice(2, 3));
    await suggestions.getByRole('option', { name: new RegExp(`@${bob.username}\\b`) }).waitFor();
    await box.press('Enter');
    await expect(box.inputValue()).resolves.toBe(`Could you check these **today**, @${bob.username} `);
    await box.pressSequentially(' cc @nobody <img src=x onerror=alert(1)>');
    await dialogA.getByRole('button', { name: 'Preview' }).click();
    const preview = dialogA.getByRole('region', { name: 'Preview' });
    await expect(preview.locator('strong').textContent()).resolves.toBe('today');
    // Raw HTML is never rendered.
    await expect(preview.locator('img').count()).resolves.toBe(0);
    await dialogA.getByRole('button', { name: 'Preview' }).click();
    await dialogA.getByRole('button', { name: 'Comment', exact: true }).click();
    await comments(pageA).first().waitFor();
    const [stored] = (
      await api<{ results: { mentions: number[] }[] }>('GET', `/api/tasks/${task.id}/comments/`, admin.token)
    ).results;
    expect(stored?.mentions).toEqual([member.id]);
    // The mention stands out where it is written; a name that is nobody's stays plain text.
    await expect(comments(pageA).first().locator('.mention').allTextContents()).resolves.toEqual([`@${bob.username}`]);
    await expect(comments(pageA).first().textContent()).resolves.toContain('cc @nobody');

    // B's bell counts it without a reload, and the inbox item opens the task.
    await pageB.getByRole('button', { name: 'Inbox, 1 unread' }).waitFor({ timeout: LIVE_MS * 3 });
    await bell(pageB).click();
    const inbox = pageB.getByRole('dialog', { name: 'Inbox' });
    const item = inbox.getByRole('listitem').filter({ hasText: 'mentioned you in' });
    await expect(item.textContent()).resolves.toContain(`${task.ref} Draft the release notes`);
    await screenshot(pageB, 'inbox.png');
    await item.getByRole('link', { name: new RegExp(task.ref) }).click();
    const dialogB = pageB.getByRole('dialog', { name: 'Edit task' });
    await expect(dialogB.locator('.comment-list strong').textContent()).resolves.toBe('today');
    await pageB.getByRole('button', { name: 'Inbox, nothing unread' }).waitFor();
    // B was made a watcher by the mention.
    await expect(dialogB.getByRole('button', { name: 'Watching' }).getAttribute('aria-pressed')).resolves.toBe('true');

    // B replies; A sees it in the open dialog without a reload, and the card counts both.
    await dialogB.getByLabel('Add a comment').fill('On it, done by noon.');
    await dialogB.getByLabel('Add a comment').press('Control+Enter');
    await comments(pageA)
      .filter({ hasText: 'On it, done by noon.' })
      .waitFor({ timeout: LIVE_MS * 3 });
    await expect(comments(pageA).count()).resolves.toBe(2);
    await card(pageA, 'Draft the release notes').filter({ hasText: '2 comments' }).waitFor();

    // A edits their comment; B's open thread follows.
    const first = comments(pageA).first();
    await first.getByRole('button', { name: 'Edit' }).click();
    const edit = first.getByLabel('Edit your comment');
    await edit.fill(`Could you check these **by Friday**, @${bob.username}`);
    await first.getByRole('button', { name: 'Save comment' }).click();
    await comments(pageB)
      .first()
      .filter({ hasText: 'by Friday' })
      .filter({ hasText: 'edited' })
      .waitFor({
        timeout: LIVE_MS * 3,
      });

    // A attaches an image: listed with its size and a thumbnail.
    await dialogA
      .getByLabel('Files to attach')
      .setInputFiles({ name: 'chart.png', mimeType: 'image/png', buffer: PNG });
    const listed = dialogA.locator('.attachment-list li', { hasText: 'chart.png' });
    await listed.waitFor();
    await expect(listed.textContent()).resolves.toContain(`${PNG.length} B`);
    await expect
      .poll(() => listed.locator('img.thumbnail').evaluate((img: { naturalWidth: number }) => img.naturalWidth))
      .toBe(2);
    await card(pageA, 'Draft the release notes').filter({ hasText: '1 attachment' }).waitFor();
    await dialogA.locator('.collaboration').scrollIntoViewIfNeeded();
    await screenshot(pageA, 'comments.png');

    // B's open dialog lists it live, and B downloads it: the same bytes.
    const link = dialogB.getByRole('link', { name: 'chart.png' });
    await link.waitFor({ timeout: LIVE_MS * 3 });
    const [download] = await Promise.all([pageB.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('chart.png');
    expect(sha256(await readFile(await download.path()))).toBe(sha256(PNG));
  });
});
