import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  createTestContext,
  json,
  type Method,
  registerCompany,
  requestsTo,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';
import { multipartFile } from '../../test/multipart.ts';
import { startTestS3, type TestS3 } from '../../test/s3.ts';
import { until } from '../../test/timing.ts';
import { TestSocket } from '../../test/ws.ts';
import { queryRows } from '../platform/db/index.ts';
import type { Task } from '../tasks/schemas.ts';
import { QUEUES } from './jobs.ts';
import * as q from './queries.ts';
import type { Attachment } from './schemas.ts';
import { DownloadSigner, LINK_TTL_SECONDS } from './signing.ts';
import { AttachmentsWorker } from './worker.ts';

const MAX_BYTES = 256 * 1024;
const QUOTA_BYTES = 1024 * 1024;

/** An 8-byte PNG signature and an IHDR chunk: enough for file-type to know it. */
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'),
  Buffer.alloc(64, 1),
]);

const bytes = (size: number, seed = 7) => Buffer.from(Array.from({ length: size }, (_, i) => (i * seed + 13) % 251));
const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

describe.each(['local', 's3'] as const)('attachments on %s storage', (kind) => {
  let ctx: TestContext;
  let s3: TestS3 | undefined;
  let dataDir: string;
  let worker: AttachmentsWorker;
  /** Where the app listens: for a raw upload cut short, and the WebSocket. */
  let address: string;
  const { call, createTask } = requestsTo(() => ctx.app);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'attachments-'));
    s3 = kind === 's3' ? await startTestS3() : undefined;
    ctx = await createTestContext({
      dataDir,
      s3: s3?.config,
      attachmentMaxBytes: MAX_BYTES,
      storageQuotaBytes: QUOTA_BYTES,
    });
    worker = new AttachmentsWorker(ctx.db, ctx.jobs, ctx.services.attachments.storage, { info: () => undefined });
    address = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await ctx?.close();
    await s3?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const storage = () => ctx.services.attachments.storage;
  const stored = (session: Session) => storage().list(`${session.user.company.id}/`);

  const upload = (session: Session | null, taskId: number, filename: string, content: Buffer, field = 'file') => {
    const { payload, headers } = multipartFile(filename, content, field);
    return ctx.app.inject({
      method: 'POST',
      url: `/api/tasks/${taskId}/attachments/`,
      payload,
      headers: { ...headers, ...(session === null ? {} : { authorization: `Bearer ${session.access}` }) },
    });
  };
  const uploaded = async (session: Session, taskId: number, filename: string, content: Buffer) => {
    const response = await upload(session, taskId, filename, content);
    if (response.statusCode !== 201) throw new Error(`upload failed: ${response.statusCode} ${response.body}`);
    return json<Attachment>(response);
  };
  const system = <T>(query: ReturnType<typeof sql>) => ctx.db.unsafeSystem((tx) => queryRows<T>(tx, query));
  const usage = async (session: Session) =>
    Number(
      (
        await system<{ bytes: string }>(
          sql`select bytes from storage_usage where company_id = ${session.user.company.id}`,
        )
      )[0]?.bytes ?? 0,
    );
  const pending = async (session: Session) =>
    (await system(sql`select 1 from attachment_uploads where company_id = ${session.user.company.id}`)).length;

  it('uploads, lists newest first, and downloads what was sent, typed by its bytes', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const text = Buffer.from('Plain words, nothing more.\n');
    const notes = await uploaded(owner, task.id, 'notes.txt', text);
    expect(notes).toMatchObject({
      task: task.id,
      filename: 'notes.txt',
      content_type: 'text/plain',
      size: text.length,
      sha256: sha256(text),
      uploaded_by: owner.user.id,
    });
    // A PNG named .txt is a PNG; a name with a path and control characters keeps only its text.
    const image = await uploaded(owner, task.id, '../../secret/pic\u0007ture.txt', PNG);
    expect(image).toMatchObject({ filename: 'picture.txt', content_type: 'image/png' });
    const unicode = await uploaded(owner, task.id, 'résumé 日本語.bin', bytes(1000));
    expect(unicode).toMatchObject({ filename: 'résumé 日本語.bin', content_type: 'application/octet-stream' });

    const listed = json<Attachment[]>(await call(owner, 'GET', `/api/tasks/${task.id}/attachments/`));
    expect(listed.map((a) => a.id)).toEqual([unicode.id, image.id, notes.id]);
    expect(json(await call(owner, 'GET', `/api/tasks/${task.id}/`))).toMatchObject({ attachment_count: 3 });
    // Each read signs a fresh link, whose expiry may be a second later.
    expect(json(await call(owner, 'GET', `/api/attachments/${image.id}/`))).toEqual({
      ...image,
      download_url: expect.stringMatching(new RegExp(`^/api/attachments/${image.id}/download/\\?c=`)),
    });

    const download = await call(owner, 'GET', `/api/attachments/${unicode.id}/download/`);
    expect(download.statusCode).toBe(200);
    expect(download.rawPayload).toEqual(bytes(1000));
    expect(download.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': '1000',
      'x-content-type-options': 'nosniff',
      etag: `"${unicode.sha256}"`,
      'accept-ranges': 'bytes',
      'content-disposition': `attachment; filename="r_sum_ ___.bin"; filename*=UTF-8''${encodeURIComponent('résumé 日本語.bin')}`,
    });
    const png = await call(owner, 'GET', `/api/attachments/${image.id}/download/`);
    expect([png.headers['content-type'], png.rawPayload]).toEqual(['image/png', PNG]);
    expect(
      (
        await call(owner, 'GET', `/api/attachments/${image.id}/download/`, undefined, {
          'if-none-match': png.headers.etag as string,
        })
      ).statusCode,
    ).toBe(304);
    expect(await usage(owner)).toBe(text.length + PNG.length + 1000);
    if (kind === 'local') {
      // Owner-only: 0700 directories, 0600 files.
      const root = path.join(dataDir, 'attachments');
      const [key] = await stored(owner);
      expect((await stat(path.join(root, key as string))).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(path.join(root, key as string)))).mode & 0o777).toBe(0o700);
    }
  });

  it('stores HTML, SVG and XML as what they are and sends them as bytes', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const cases = [
      ['page.png', '<!DOCTYPE html><html><script>alert(1)</script></html>', 'text/html'],
      ['logo.svg', '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', 'image/svg+xml'],
      ['data.txt', '<svg onload="alert(1)"></svg>', 'image/svg+xml'],
    ] as const;
    for (const [name, content, type] of cases) {
      const attachment = await uploaded(owner, task.id, name, Buffer.from(content));
      expect(attachment.content_type).toBe(type);
      const download = await call(owner, 'GET', `/api/attachments/${attachment.id}/download/`);
      expect(download.headers['content-type']).toBe('application/octet-stream');
      expect(download.headers['content-disposition']).toMatch(/^attachment;/);
      expect(download.body).toBe(content);
    }
  });

  it('serves byte ranges: 206 with Content-Range, 416 past the end', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const content = bytes(5000, 3);
    const { id } = await uploaded(owner, task.id, 'data.bin', content);
    const ranged = (range: string) => call(owner, 'GET', `/api/attachments/${id}/download/`, undefined, { range });
    const first = await ranged('bytes=0-9');
    expect([first.statusCode, first.headers['content-range'], first.headers['content-length']]).toEqual([
      206,
      'bytes 0-9/5000',
      '10',
    ]);
    expect(first.rawPayload).toEqual(content.subarray(0, 10));
    const middle = await ranged('bytes=4000-');
    expect([middle.statusCode, middle.headers['content-range']]).toEqual([206, 'bytes 4000-4999/5000']);
    expect(middle.rawPayload).toEqual(content.subarray(4000));
    const suffix = await ranged('bytes=-100');
    expect(suffix.rawPayload).toEqual(content.subarray(4900));
    const past = await ranged('bytes=5000-6000');
    expect([past.statusCode, past.headers['content-range']]).toEqual([416, 'bytes */5000']);
    // Several ranges are not split: the whole file.
    expect((await ranged('bytes=0-1,5-6')).statusCode).toBe(200);
  });

  it('downloads by a signed link without the header; a tampered or expired one falls back to the header', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const content = Buffer.from('signed content');
    const attachment = await uploaded(owner, task.id, 'signed.txt', content);
    expect(attachment.download_url).toMatch(
      new RegExp(`^/api/attachments/${attachment.id}/download/\\?c=\\d+&e=\\d+&s=`),
    );
    const signed = await call(null, 'GET', attachment.download_url);
    expect([signed.statusCode, signed.body]).toEqual([200, 'signed content']);

    const tampered = attachment.download_url.replace(/s=(.)/, (_, c) => `s=${c === 'A' ? 'B' : 'A'}`);
    const refused = await call(null, 'GET', tampered);
    expect([refused.statusCode, refused.headers['www-authenticate']]).toEqual([401, 'Bearer realm="api"']);
    expect((await call(owner, 'GET', tampered)).body).toBe('signed content');
    const otherId = attachment.download_url.replace(`/${attachment.id}/`, `/${attachment.id + 1}/`);
    expect((await call(null, 'GET', otherId)).statusCode).toBe(401);
    const longer = attachment.download_url.replace(/e=(\d+)/, (_, e) => `e=${Number(e) + 3600}`);
    expect((await call(null, 'GET', longer)).statusCode).toBe(401);
    expect((await call(owner, 'GET', longer)).statusCode).toBe(200);
    const past = new DownloadSigner(ctx.config.jwtSecret, () => Date.now() - (LINK_TTL_SECONDS + 1) * 1000);
    const expired = past.url(owner.user.company.id, attachment.id);
    expect(json(await call(null, 'GET', expired))).toEqual({ detail: 'This download link is invalid or has expired.' });
    expect((await call(owner, 'GET', expired)).statusCode).toBe(200);
    // Someone else's header does not open it either: the link no longer speaks for the company.
    const stranger = await registerCompany(ctx.app);
    expect((await call(stranger, 'GET', expired)).statusCode).toBe(404);
    // Without a link's parameters, the header as everywhere.
    expect((await call(null, 'GET', `/api/attachments/${attachment.id}/download/`)).statusCode).toBe(401);
    expect((await call(owner, 'GET', `/api/attachments/${attachment.id}/download/`)).statusCode).toBe(200);
  });

  it('refuses empty, missing and misnamed files, and bodies that are not multipart', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const empty = await upload(owner, task.id, 'empty.txt', Buffer.alloc(0));
    expect([empty.statusCode, Object.keys(json(empty))]).toEqual([400, ['file']]);
    const misnamed = await upload(owner, task.id, 'a.txt', Buffer.from('x'), 'document');
    expect([misnamed.statusCode, Object.keys(json(misnamed))]).toEqual([400, ['file']]);
    const boundary = 'only-fields';
    const fieldsOnly = await ctx.app.inject({
      method: 'POST',
      url: `/api/tasks/${task.id}/attachments/`,
      headers: { authorization: `Bearer ${owner.access}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--${boundary}--\r\n`,
    });
    expect([fieldsOnly.statusCode, Object.keys(json(fieldsOnly))]).toEqual([400, ['file']]);
    const broken = await ctx.app.inject({
      method: 'POST',
      url: `/api/tasks/${task.id}/attachments/`,
      headers: { authorization: `Bearer ${owner.access}`, 'content-type': 'multipart/form-data' },
      payload: '{"id": 1}',
    });
    expect([broken.statusCode, json(broken)]).toEqual([
      400,
      { detail: 'The upload was cut short or is not valid multipart/form-data.' },
    ]);
    const { payload: whole, headers: framing } = multipartFile('cut.txt', Buffer.from('cut short'));
    const truncated = await ctx.app.inject({
      method: 'POST',
      url: `/api/tasks/${task.id}/attachments/`,
      headers: { ...framing, authorization: `Bearer ${owner.access}` },
      payload: whole.subarray(0, whole.length - 20),
    });
    expect(truncated.statusCode).toBe(400);
    const asJson = await call(owner, 'POST', `/api/tasks/${task.id}/attachments/`, { file: 'x' });
    expect(asJson.statusCode).toBe(415);
    expect(await stored(owner)).toEqual([]);
    expect(await pending(owner)).toBe(0);
    // Elsewhere a multipart body is still a 415.
    const { payload, headers } = multipartFile('a.txt', Buffer.from('x'));
    const elsewhere = await ctx.app.inject({
      method: 'POST',
      url: '/api/tasks/',
      payload,
      headers: { ...headers, authorization: `Bearer ${owner.access}` },
    });
    expect(elsewhere.statusCode).toBe(415);
  });

  it('refuses a file over ATTACHMENT_MAX_MB with a 413, declared or streamed, keeping nothing', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const declared = await upload(owner, task.id, 'big.bin', bytes(MAX_BYTES + 1));
    expect(declared.statusCode).toBe(413);
    expect(json<{ detail: string }>(declared).detail).toMatch(/larger than the 0.3 MB allowed/);
    // Chunked, without Content-Length: cut off while streaming.
    const { payload, headers } = multipartFile('big.bin', bytes(MAX_BYTES + 1000));
    const streamed = await ctx.app.inject({
      method: 'POST',
      url: `/api/tasks/${task.id}/attachments/`,
      payload: Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]),
      headers: { ...headers, authorization: `Bearer ${owner.access}` },
    });
    expect(streamed.statusCode).toBe(413);
    expect((await uploaded(owner, task.id, 'max.bin', bytes(MAX_BYTES))).size).toBe(MAX_BYTES);
    expect((await stored(owner)).length).toBe(1);
    expect(await pending(owner)).toBe(0);
  });

  it('keeps each company within STORAGE_QUOTA_MB, concurrent uploads included', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    // Four files of 250,000 bytes fill 1 MiB but for 48,576 bytes.
    for (let i = 0; i < 4; i++) await uploaded(owner, task.id, `part${i}.bin`, bytes(250_000, i + 2));
    const over = await upload(owner, task.id, 'more.bin', bytes(60_000));
    expect(over.statusCode).toBe(413);
    expect(json<{ detail: string }>(over).detail).toMatch(/storage quota of 1 MB/);
    // Streamed without a length: cut off at the room left.
    const { payload, headers } = multipartFile('more.bin', bytes(60_000));
    const streamed = await ctx.app.inject({
      method: 'POST',
      url: `/api/tasks/${task.id}/attachments/`,
      payload: Readable.from([payload]),
      headers: { ...headers, authorization: `Bearer ${owner.access}` },
    });
    expect([streamed.statusCode, json<{ detail: string }>(streamed).detail]).toEqual([
      413,
      expect.stringMatching(/storage quota/),
    ]);
    expect(await usage(owner)).toBe(1_000_000);

    // Another company, whose room fits two of five concurrent uploads: two of them get it.
    const other = await registerCompany(ctx.app);
    const otherTask = await createTask(other);
    for (let i = 0; i < 3; i++) await uploaded(other, otherTask.id, `base${i}.bin`, bytes(200_000, i + 3));
    const racing = await Promise.all(
      Array.from({ length: 5 }, (_, i) => upload(other, otherTask.id, `racer${i}.bin`, bytes(200_000, i + 7))),
    );
    expect(racing.map((r) => r.statusCode).sort()).toEqual([201, 201, 413, 413, 413]);
    expect(await usage(other)).toBe(1_000_000);
    expect((await stored(other)).length).toBe(5);
    expect(await pending(other)).toBe(0);

    // Room comes back once a file is deleted.
    const first = json<Attachment[]>(await call(owner, 'GET', `/api/tasks/${task.id}/attachments/`))[0] as Attachment;
    expect((await call(owner, 'DELETE', `/api/attachments/${first.id}/`)).statusCode).toBe(204);
    expect(await usage(owner)).toBe(750_000);
    expect((await upload(owner, task.id, 'more.bin', bytes(60_000))).statusCode).toBe(201);
  });

  it('counts a reservation committed while another waited for the company’s usage lock', async () => {
    const owner = await registerCompany(ctx.app);
    const companyId = owner.user.company.id;
    // The usage row exists, committed, as after a first upload.
    await ctx.db.tenant(companyId, (tx) => q.lockedUsage(tx, companyId));
    let locked = () => {};
    let release = () => {};
    const holding = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lockedNow = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const first = ctx.db.tenant(companyId, async (tx) => {
      await q.lockedUsage(tx, companyId);
      await q.insertUpload(tx, companyId, `${companyId}/first`, 1000);
      locked();
      await holding;
    });
    await lockedNow;
    const second = ctx.db.tenant(companyId, (tx) => q.lockedUsage(tx, companyId));
    // Asked as the database's owner: the application roles do not see other sessions' activity.
    await until(
      async () =>
        (
          await ctx.db.client.query(
            `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          )
        ).rowCount === 1,
      10_000,
      'the second waits for the lock',
    );
    release();
    await first;
    expect(await second).toEqual({ stored: 0, reserved: 1000 });
    await ctx.db.tenant(companyId, (tx) => q.deleteUpload(tx, companyId, `${companyId}/first`));
  });

  it('leaves neither row nor bytes when the client goes away mid-upload', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const { payload, headers } = multipartFile('cut.bin', bytes(200_000));
    const request = httpRequest(`${address}/api/tasks/${task.id}/attachments/`, {
      method: 'POST',
      headers: { ...headers, 'content-length': payload.length, authorization: `Bearer ${owner.access}` },
    });
    request.on('error', () => undefined);
    request.flushHeaders();
    // The reservation is made before the server reads the body.
    await until(async () => (await pending(owner)) === 1, 10_000, 'the upload began');
    await new Promise<void>((resolve) => request.write(payload.subarray(0, payload.length / 2), () => resolve()));
    if (kind === 'local') await until(async () => (await stored(owner)).length === 1, 10_000, 'bytes arrived');
    request.destroy();
    await until(async () => (await pending(owner)) === 0, 10_000, 'the upload was undone');
    expect(await stored(owner)).toEqual([]);
    expect(json(await call(owner, 'GET', `/api/tasks/${task.id}/attachments/`))).toEqual([]);
    expect(await usage(owner)).toBe(0);
  });

  it('tells those who see the task its new attachment_count, live', async () => {
    const owner = await registerCompany(ctx.app);
    const member = await addMember(ctx.app, owner);
    const task = await createTask(owner);
    const socket = await TestSocket.open(`${address.replace('http', 'ws')}/ws/tasks/`, { token: member.access });
    try {
      await socket.ofType('connection_established');
      const counted = (count: number) =>
        socket.next(
          (m) =>
            m.type === 'task_updated' && (m.task as Task).id === task.id && (m.task as Task).attachment_count === count,
        );
      const file = await uploaded(owner, task.id, 'one.txt', Buffer.from('one'));
      await counted(1);
      expect((await call(owner, 'DELETE', `/api/attachments/${file.id}/`)).statusCode).toBe(204);
      await counted(0);
    } finally {
      socket.close();
    }
  });

  it('collects the bytes of an upload whose process died before recording them', async () => {
    const owner = await registerCompany(ctx.app);
    const companyId = owner.user.company.id;
    // What a process killed between storing and recording leaves: the reservation and the bytes.
    const key = `${companyId}/crashed-upload`;
    await ctx.db.unsafeSystem((tx) =>
      tx.execute(
        sql`insert into attachment_uploads (company_id, storage_key, reserved) values (${companyId}, ${key}, 10)`,
      ),
    );
    await storage().put(key, Readable.from([Buffer.from('orphaned!!')]));
    expect(await stored(owner)).toEqual([key]);
    // And one killed mid-write: half its bytes in a temporary file.
    const halfKey = `${companyId}/killed-mid-write`;
    await ctx.db.unsafeSystem((tx) =>
      tx.execute(
        sql`insert into attachment_uploads (company_id, storage_key, reserved) values (${companyId}, ${halfKey}, 10)`,
      ),
    );
    const half = new PassThrough();
    const writing = storage().put(halfKey, half);
    half.write(Buffer.from('half'));
    if (kind === 'local') await until(async () => (await stored(owner)).length === 2, 5000, 'the half-written file');
    half.destroy(new Error('killed'));
    await expect(writing).rejects.toThrow('killed');
    if (kind === 'local') {
      // What a put cut short by the process's death leaves (a put that fails removes it itself).
      await writeFile(path.join(dataDir, 'attachments', `${companyId}/.killed-mid-write.part`), 'half');
    }
    // Recent uploads may still be running: left alone.
    expect((await worker.collect()).orphans).toBe(0);
    expect(await storage().exists(key)).toBe(true);
    const collected = await worker.collect(new Date(Date.now() + 1000));
    expect(collected.orphans).toBeGreaterThanOrEqual(1);
    expect(await stored(owner)).toEqual([]);
    expect(await pending(owner)).toBe(0);
  });

  it('removes the bytes after an attachment’s or its task’s deletion commits, and the usage with them', async () => {
    const owner = await registerCompany(ctx.app);
    const task = await createTask(owner);
    const one = await uploaded(owner, task.id, 'one.txt', Buffer.from('one'));
    await uploaded(owner, task.id, 'two.txt', Buffer.from('two!'));
    const other = await createTask(owner);
    await uploaded(owner, other.id, 'three.txt', Buffer.from('three'));
    expect(await usage(owner)).toBe(12);
    const queued = async () => (await ctx.jobs.stats()).find((s) => s.queue === QUEUES.collect)?.states.created ?? 0;
    const before = await queued();

    expect((await call(owner, 'DELETE', `/api/attachments/${one.id}/`)).statusCode).toBe(204);
    expect((await call(owner, 'GET', `/api/attachments/${one.id}/`)).statusCode).toBe(404);
    expect(json(await call(owner, 'GET', `/api/tasks/${task.id}/`))).toMatchObject({ attachment_count: 1 });
    expect(await usage(owner)).toBe(9);
    // Queued for the worker, which runs once the deletion has committed.
    expect((await stored(owner)).length).toBe(3);
    expect(await queued()).toBe(before + 1);
    await worker.collect();
    expect((await stored(owner)).length).toBe(2);

    expect((await call(owner, 'DELETE', `/api/tasks/${task.id}/`)).statusCode).toBe(204);
    expect(await usage(owner)).toBe(5);
    expect(await queued()).toBe(before + 2);
    // A task without attachments queues nothing.
    expect((await call(owner, 'DELETE', `/api/tasks/${(await createTask(owner)).id}/`)).statusCode).toBe(204);
    expect(await queued()).toBe(before + 2);
    await worker.collect();
    expect((await stored(owner)).length).toBe(1);
    const [last] = json<Attachment[]>(await call(owner, 'GET', `/api/tasks/${other.id}/attachments/`));
    expect((await call(owner, 'GET', `/api/attachments/${last?.id}/download/`)).statusCode).toBe(200);
    // A download that found the row just before the bytes went (deleted and collected meanwhile).
    const [gone] = await stored(owner);
    await storage().delete(gone as string);
    expect((await call(owner, 'GET', `/api/attachments/${last?.id}/download/`)).statusCode).toBe(404);
  });

  it('lets those who write upload, the uploader and managers delete, and hides them from whoever does not see the task', async () => {
    const admin = await registerCompany(ctx.app);
    const member = await addMember(ctx.app, admin);
    const colleague = await addMember(ctx.app, admin);
    const viewer = await addMember(ctx.app, admin);
    const outsider = await registerCompany(ctx.app);
    const as = (session: Session | null, method: Method, url: string, body?: object) =>
      call(session, method, url, body);
    const project = json<{ id: number }>(
      await as(admin, 'POST', '/api/projects/', { name: 'Secret', is_private: true }),
    );
    for (const [person, role] of [
      [member, 'member'],
      [viewer, 'viewer'],
    ] as const) {
      expect(
        (await as(admin, 'PUT', `/api/projects/${project.id}/members/${person.user.id}/`, { role })).statusCode,
      ).toBe(200);
    }
    const task = await createTask(admin, { project: project.id });
    const mine = await uploaded(member, task.id, 'mine.txt', Buffer.from('member’s'));

    expect((await upload(viewer, task.id, 'v.txt', Buffer.from('x'))).statusCode).toBe(403);
    expect(json<Attachment[]>(await as(viewer, 'GET', `/api/tasks/${task.id}/attachments/`))).toHaveLength(1);
    expect((await as(viewer, 'DELETE', `/api/attachments/${mine.id}/`)).statusCode).toBe(403);
    // A company member outside the private project, and another company: 404 everywhere.
    for (const stranger of [colleague, outsider]) {
      expect((await upload(stranger, task.id, 's.txt', Buffer.from('x'))).statusCode).toBe(404);
      expect((await as(stranger, 'GET', `/api/tasks/${task.id}/attachments/`)).statusCode).toBe(404);
      expect((await as(stranger, 'GET', `/api/attachments/${mine.id}/`)).statusCode).toBe(404);
      expect((await as(stranger, 'GET', `/api/attachments/${mine.id}/download/`)).statusCode).toBe(404);
      expect((await as(stranger, 'DELETE', `/api/attachments/${mine.id}/`)).statusCode).toBe(404);
    }
    expect((await upload(null, task.id, 'n.txt', Buffer.from('x'))).statusCode).toBe(401);

    // The admin's file: not the member's to delete; the member's own is.
    const admins = await uploaded(admin, task.id, 'admin.txt', Buffer.from('admin’s'));
    expect((await as(member, 'DELETE', `/api/attachments/${admins.id}/`)).statusCode).toBe(403);
    expect((await as(member, 'DELETE', `/api/attachments/${mine.id}/`)).statusCode).toBe(204);
    // A project manager deletes anyone's.
    const again = await uploaded(member, task.id, 'again.txt', Buffer.from('again'));
    await as(admin, 'PUT', `/api/projects/${project.id}/members/${viewer.user.id}/`, { role: 'manager' });
    expect((await as(viewer, 'DELETE', `/api/attachments/${again.id}/`)).statusCode).toBe(204);

    // An archived project is read-only: 409 on upload and delete, downloads still work.
    expect((await as(admin, 'PATCH', `/api/projects/${project.id}/`, { archived: true })).statusCode).toBe(200);
    expect((await upload(admin, task.id, 'late.txt', Buffer.from('x'))).statusCode).toBe(409);
    expect((await as(admin, 'DELETE', `/api/attachments/${admins.id}/`)).statusCode).toBe(409);
    expect((await as(admin, 'GET', `/api/attachments/${admins.id}/download/`)).statusCode).toBe(200);
  });
});
