import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { requireActor } from '../accounts/service.ts';
import type { Auth } from '../platform/auth.ts';
import type { AppConfig } from '../platform/config.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { fieldError, HttpError, notFound, permissionDenied } from '../platform/errors.ts';
import type { Jobs } from '../platform/jobs/index.ts';
import { archivedConflict } from '../projects/access.ts';
import { NO_EVENTS, type ProjectEvents } from '../projects/hooks.ts';
import { type ProjectAccess, requireProject } from '../projects/service.ts';
import type { TaskWrite, TaskWriteListener } from '../tasks/hooks.ts';
import { sharedTaskOf } from '../tasks/links.ts';
import { findTaskProject } from '../tasks/reads.ts';
import { cleanFilename, detectContentType } from './files.ts';
import { collectAfterCommit } from './jobs.ts';
import { Meter, TooLarge } from './meter.ts';
import * as q from './queries.ts';
import type { Attachment } from './schemas.ts';
import type { DownloadSigner } from './signing.ts';
import type { ByteRange, Storage } from './storage/index.ts';

/** A multipart body's framing around the file (boundaries, part headers): what Content-Length adds to it. */
const MULTIPART_OVERHEAD = 64 * 1024;

const MB = 1024 * 1024;
const megabytes = (bytes: number) => `${Math.round((bytes / MB) * 10) / 10} MB`;

const isPrematureClose = (error: unknown) => (error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE';

/**
 * What went wrong with the bytes the client sent: its limits as they are, a refusal the multipart
 * parser gave a status, anything else (a body cut short, broken framing) a 400.
 */
export function badUpload(error: unknown): unknown {
  if (error instanceof TooLarge || error instanceof HttpError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500) return error;
  return new HttpError(400, { detail: 'The upload was cut short or is not valid multipart/form-data.' });
}

export interface IncomingFile {
  filename: string;
  stream: Readable;
}

export interface Download {
  attachment: q.AttachmentRow;
  open(range?: ByteRange): Promise<Readable>;
}

export class AttachmentsService implements TaskWriteListener {
  constructor(
    private readonly db: Database,
    private readonly jobs: Jobs,
    readonly storage: Storage,
    private readonly signer: DownloadSigner,
    private readonly limits: Pick<AppConfig, 'attachmentMaxBytes' | 'storageQuotaBytes'>,
    private readonly events: ProjectEvents = NO_EVENTS,
  ) {}

  /**
   * In the transaction that added or removed a file of the task: what to run once it has committed,
   * telling those who see the task its new attachment_count (task_updated, as for any change of it).
   */
  private async countChanged(tx: Tx, companyId: number, taskId: number): Promise<() => Promise<void>> {
    const task = await sharedTaskOf(tx, companyId, taskId);
    return async () => {
      if (task !== undefined) await this.events.projectEvent(companyId, task.project, { type: 'task_updated', task });
    };
  }

  private toAttachment(row: q.AttachmentRow): Attachment {
    return {
      id: row.id,
      task: row.taskId,
      filename: row.filename,
      content_type: row.contentType,
      size: row.size,
      sha256: row.sha256,
      uploaded_by: row.uploadedBy,
      created_at: row.createdAt.toISOString(),
      download_url: this.signer.url(row.companyId, row.id),
    };
  }

  /** The caller's access to a task's project: 404 when they do not see the task. */
  private async requireTask(tx: Tx, auth: Auth, taskId: number, action: 'read' | 'write'): Promise<ProjectAccess> {
    const actor = await requireActor(tx, auth);
    const projectId = await findTaskProject(tx, auth.companyId, taskId);
    if (projectId === undefined) throw notFound();
    return requireProject(tx, auth, projectId, action, { actor });
  }

  list(auth: Auth, taskId: number): Promise<Attachment[]> {
    return this.db.tenant(auth, async (tx) => {
      await this.requireTask(tx, auth, taskId, 'read');
      return (await q.listForTask(tx, auth.companyId, taskId)).map((row) => this.toAttachment(row));
    });
  }

  get(auth: Auth, id: number): Promise<Attachment> {
    return this.db.tenant(auth, async (tx) => {
      await requireActor(tx, auth);
      // Row-level security shows only the attachments of tasks the caller sees.
      const row = await q.findAttachment(tx, auth.companyId, id);
      if (row === undefined) throw notFound();
      return this.toAttachment(row);
    });
  }

  /** Its uploader, company admins and the project's managers; the bytes go once this has committed. */
  async delete(auth: Auth, id: number): Promise<void> {
    const announce = await this.db.tenant(auth, async (tx) => {
      await requireActor(tx, auth);
      const row = await q.findAttachment(tx, auth.companyId, id);
      if (row === undefined) throw notFound();
      const access = await this.requireTask(tx, auth, row.taskId, 'read');
      if (row.uploadedBy !== auth.userId && access.role !== 'manager') {
        throw permissionDenied('Only its uploader and the project’s managers can delete an attachment.');
      }
      if (access.project.archived) throw archivedConflict();
      await q.deleteAttachment(tx, auth.companyId, id);
      await collectAfterCommit(this.jobs, tx);
      return this.countChanged(tx, auth.companyId, row.taskId);
    });
    await announce();
  }

  /** A creation: nothing to collect. */
  soleCreationSql(): null {
    return null;
  }

  /** A task deleted with attachments: their rows went with it (their bytes queued by trigger); collect them after commit. */
  async inTransaction(tx: Tx, writes: readonly TaskWrite[]): Promise<void> {
    if (writes.some((write) => write.kind === 'deleted' && (write.before?.attachment_count ?? 0) > 0)) {
      await collectAfterCommit(this.jobs, tx);
    }
  }

  private quotaExceeded(stored: number): HttpError {
    return new HttpError(413, {
      detail: `This upload would exceed the company’s storage quota of ${megabytes(this.limits.storageQuotaBytes)} (${megabytes(stored)} in use).`,
    });
  }

  private tooLarge(): HttpError {
    return new HttpError(413, {
      detail: `The file is larger than the ${megabytes(this.limits.attachmentMaxBytes)} allowed.`,
    });
  }

  /**
   * An upload, in three steps. First, in a transaction: the caller may write on the task, and
   * room is reserved under the company's quota (a row in attachment_uploads, which also names the
   * bytes should this process die before the last step). Then the bytes stream to storage, measured
   * on the way and cut off at the reservation. Last, in a transaction: the reservation becomes the
   * attachment row. Whatever fails removes the bytes and the reservation.
   *
   * `declaredLength`: the request's Content-Length when it has one, checked before a byte is read.
   */
  async upload(
    auth: Auth,
    taskId: number,
    declaredLength: number | undefined,
    receive: () => Promise<IncomingFile | undefined>,
  ): Promise<Attachment> {
    const { companyId } = auth;
    const maxBytes = this.limits.attachmentMaxBytes;
    const key = `${companyId}/${randomUUID()}`;
    const limit = await this.db.tenant(auth, async (tx) => {
      await this.requireTask(tx, auth, taskId, 'write');
      if (declaredLength !== undefined && declaredLength > maxBytes + MULTIPART_OVERHEAD) throw this.tooLarge();
      const usage = await q.lockedUsage(tx, companyId);
      const room = this.limits.storageQuotaBytes - usage.stored - usage.reserved;
      const wanted = Math.min(declaredLength ?? maxBytes, maxBytes);
      if (room <= 0 || (declaredLength !== undefined && wanted > room)) throw this.quotaExceeded(usage.stored);
      const reserved = Math.min(wanted, room);
      await q.insertUpload(tx, companyId, key, reserved);
      return reserved;
    });
    let recorded: { inserted: q.AttachmentRow; announce: () => Promise<void> };
    try {
      const file = await receive();
      if (file === undefined) throw fieldError('file', 'No file was submitted.');
      const meter = new Meter(limit, limit < maxBytes ? 'quota' : 'size');
      // Both settled before going on: bytes still being written cannot be removed.
      const [received, put] = await Promise.allSettled([pipeline(file.stream, meter), this.storage.put(key, meter)]);
      // Storage that failed cuts the stream short too: then its own error is the cause.
      if (received.status === 'rejected' && !(put.status === 'rejected' && isPrematureClose(received.reason))) {
        throw badUpload(received.reason);
      }
      if (put.status === 'rejected') throw put.reason;
      if (meter.size === 0) throw fieldError('file', 'The submitted file is empty.');
      const contentType = await detectContentType(meter.head);
      recorded = await this.db.tenant(auth, async (tx) => {
        // Checked again: the task may have been deleted, or its project archived, meanwhile.
        await this.requireTask(tx, auth, taskId, 'write');
        await q.lockedUsage(tx, companyId);
        if (!(await q.deleteUpload(tx, companyId, key))) throw new Error(`upload ${key} was collected before it ended`);
        const inserted = await q.insertAttachment(tx, {
          companyId,
          taskId,
          filename: cleanFilename(file.filename),
          contentType,
          size: meter.size,
          sha256: meter.digest(),
          storageKey: key,
          uploadedBy: auth.userId,
        });
        return { inserted, announce: await this.countChanged(tx, companyId, taskId) };
      });
    } catch (error) {
      // Should either fail, the reservation stays and the collection removes both later.
      await this.storage
        .delete(key)
        .then(() => this.db.tenant(companyId, (tx) => q.deleteUpload(tx, companyId, key)))
        .catch(() => undefined);
      if (error instanceof TooLarge) {
        throw error.kind === 'size' ? this.tooLarge() : this.quotaExceeded(await this.storedBytes(companyId));
      }
      if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw this.tooLarge();
      throw error;
    }
    // Committed: whatever fails from here on must not remove the bytes.
    await recorded.announce();
    return this.toAttachment(recorded.inserted);
  }

  private storedBytes(companyId: number): Promise<number> {
    return this.db.tenant(companyId, (tx) => q.storedBytes(tx, companyId));
  }

  /** For the caller (their Authorization), or for a signed link (its company alone). */
  download(scope: Auth | number, id: number): Promise<Download> {
    const companyId = typeof scope === 'number' ? scope : scope.companyId;
    return this.db.tenant(scope, async (tx) => {
      if (typeof scope !== 'number') await requireActor(tx, scope);
      const attachment = await q.findAttachment(tx, companyId, id);
      if (attachment === undefined) throw notFound();
      // Bytes collected between this read and the open: the attachment was deleted meanwhile.
      const open = (range?: ByteRange) =>
        this.storage.get(attachment.storageKey, range).catch((error: unknown) => {
          const { code, name } = error as { code?: string; name?: string };
          throw code === 'ENOENT' || name === 'NoSuchKey' ? notFound() : error;
        });
      return { attachment, open };
    });
  }
}
