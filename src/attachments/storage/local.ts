import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, Storage } from './index.ts';

/** Reads in 256 KiB chunks: a quarter as many trips through the event loop as the default 64 KiB. */
const READ_CHUNK = 256 * 1024;

/**
 * Chunks gathered into one write of this many bytes (or IOV_MAX chunks): a trip to the thread pool
 * per MiB rather than per 64 KiB socket read.
 */
export const WRITE_BATCH = 1024 * 1024;
const WRITE_BATCH_CHUNKS = 1024;

/** Written bytes are flushed to disk in the background every this many, so the last fsync has little left. */
export const FLUSH_EVERY = 4 * 1024 * 1024;

/**
 * A file being written: one batch on its way to the file while the next gathers (at most two
 * batches held, and the source paused meanwhile), fdatasync started in the background as the bytes pile up, fsync at the end.
 * Destroyed, it settles what it started before it closes, so the file can be removed at once.
 */
export class FileSink extends Writable {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private writing: Promise<unknown> = Promise.resolve();
  private flushing: Promise<unknown> = Promise.resolve();
  private unflushed = 0;

  constructor(private readonly handle: FileHandle) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes < WRITE_BATCH && this.batch.length < WRITE_BATCH_CHUNKS) {
      done();
      return;
    }
    this.writeBatch().then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.writeBatch()
      .then(() => this.writing)
      .then(() => this.flushing)
      .then(() => this.handle.sync())
      .then(() => done(), done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    const settled = () => done(error);
    Promise.allSettled([this.writing, this.flushing]).then(settled, settled);
  }

  /** Waits for the batch before (failing with it), then starts this one. */
  private async writeBatch(): Promise<void> {
    await this.writing;
    if (this.destroyed) return;
    const batch = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    if (bytes === 0) return;
    this.writing = writeAll(this.handle, batch, bytes).then(() => this.wrote(bytes));
    // Awaited by the next batch, _final or _destroy: not an unhandled rejection meanwhile.
    this.writing.catch(() => undefined);
  }

  private async wrote(bytes: number): Promise<void> {
    this.unflushed += bytes;
    if (this.unflushed < FLUSH_EVERY) return;
    // One at a time: waiting for the previous flush here holds the next batch back only when the disk is the slower.
    await this.flushing;
    this.unflushed = 0;
    this.flushing = this.handle.datasync();
    this.flushing.catch(() => undefined);
  }
}

/**
 * writev may write fewer bytes than given (a full disk, a signal) without failing: the rest is
 * written again, so that a short write is an error of the next try rather than a shorter file.
 */
async function writeAll(handle: FileHandle, chunks: Buffer[], bytes: number): Promise<void> {
  const { bytesWritten } = await handle.writev(chunks);
  if (bytesWritten < bytes) {
    await writeAll(handle, [Buffer.concat(chunks).subarray(bytesWritten)], bytes - bytesWritten);
  }
}

const KEY = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

/**
 * Files under one directory, for the owner only (0700 directories, 0600 files). A put writes a
 * temporary file beside its final name, fsyncs it, renames it into place and fsyncs the directory,
 * so a stored key is whole or absent whatever happens to the process.
 */
export class LocalStorage implements Storage {
  constructor(readonly root: string) {}

  private file(key: string): string {
    // Keys are the feature's own (company/uuid), never a client's: this only guards against a bug.
    if (!KEY.test(key)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    return path.join(this.root, key);
  }

  async put(key: string, source: Readable): Promise<void> {
    const target = this.file(key);
    const dir = path.dirname(target);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temporary = this.partial(key);
    try {
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await pipeline(source, new FileSink(handle));
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    const directory = await open(dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  /**
   * Where a put writes before the rename: named after its key (keys are never reused), so that
   * delete() also removes what a process killed mid-write left.
   */
  private partial(key: string): string {
    const target = this.file(key);
    return path.join(path.dirname(target), `.${path.basename(target)}.part`);
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.file(key);
    // Opened before answering, so a missing file is an error here rather than mid-stream.
    const handle = await open(file, 'r');
    return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: READ_CHUNK });
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
    await rm(this.partial(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.file(key)).then(
      () => true,
      () => false,
    );
  }

  async list(prefix: string): Promise<string[]> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true }).catch((error) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
      .filter((key) => key.startsWith(prefix))
      .sort();
  }
}
