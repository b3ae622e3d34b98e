import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileSink, FLUSH_EVERY, LocalStorage, WRITE_BATCH } from './local.ts';

/** Chunks of uneven sizes, from one byte to a socket read's 64 KiB, `total` bytes in all. */
function chunksOf(content: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < content.length; i++) {
    const size = [1, 700, 65_536, 13, 40_000][i % 5] as number;
    chunks.push(content.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('local storage', () => {
  let root: string;
  let storage: LocalStorage;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'local-storage-'));
    storage = new LocalStorage(root);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('stores exactly the bytes of a source in many batches, for the owner only', async () => {
    const content = randomBytes(3 * WRITE_BATCH + 12_345);
    await storage.put('1/batched', Readable.from(chunksOf(content)));
    expect((await readFile(path.join(root, '1/batched'))).equals(content)).toBe(true);
    expect((await stat(path.join(root, '1/batched'))).mode & 0o777).toBe(0o600);
    expect(await storage.list('1/')).toEqual(['1/batched']);
  });

  it('stores a source of more tiny chunks than one write takes', async () => {
    const content = randomBytes(5000);
    await storage.put('1/tiny', Readable.from([...content].map((byte) => Buffer.from([byte]))));
    expect((await readFile(path.join(root, '1/tiny'))).equals(content)).toBe(true);
  });

  it('leaves nothing when the source fails after batches were written', async () => {
    const content = randomBytes(2 * WRITE_BATCH + 100);
    async function* failing() {
      yield* chunksOf(content);
      throw new Error('client went away');
    }
    await expect(storage.put('2/failed', Readable.from(failing()))).rejects.toThrow('client went away');
    expect(await storage.list('2/')).toEqual([]);
  });

  it('writes again what a short write left', async () => {
    const handle = await open(path.join(root, 'short'), 'wx');
    const writev = handle.writev.bind(handle);
    // The first write takes 1,000 bytes of its batch, as writev may on a full disk or a signal.
    vi.spyOn(handle, 'writev').mockImplementationOnce(async (chunks: readonly NodeJS.ArrayBufferView[]) => {
      const { bytesWritten } = await writev([Buffer.concat(chunks as readonly Buffer[]).subarray(0, 1000)]);
      return { bytesWritten, buffers: chunks };
    });
    const content = randomBytes(WRITE_BATCH + 5000);
    try {
      await pipeline(Readable.from(chunksOf(content)), new FileSink(handle));
    } finally {
      await handle.close();
    }
    expect((await readFile(path.join(root, 'short'))).equals(content)).toBe(true);
  });

  it('flushes to disk in the background as the bytes pile up, and fsyncs once at the end', async () => {
    const handle = await open(path.join(root, 'flushed'), 'wx');
    const datasync = vi.spyOn(handle, 'datasync');
    const sync = vi.spyOn(handle, 'sync');
    try {
      await pipeline(Readable.from(chunksOf(randomBytes(3 * FLUSH_EVERY))), new FileSink(handle));
    } finally {
      await handle.close();
    }
    // A flush starts once FLUSH_EVERY bytes are written since the last: at most one per FLUSH_EVERY.
    expect(datasync.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(datasync.mock.calls.length).toBeLessThanOrEqual(3);
    expect(sync).toHaveBeenCalledTimes(1);
  });
});
