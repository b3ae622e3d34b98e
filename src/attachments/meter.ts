import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** How much of a file's start is kept for telling its type (file-type reads at most this much). */
export const HEAD_BYTES = 4100;

/** An upload that went past what it may take; `kind` says which limit. */
export class TooLarge extends Error {
  constructor(readonly kind: 'size' | 'quota') {
    super(`upload over its ${kind} limit`);
    this.name = 'TooLarge';
  }
}

/**
 * The bytes on their way to storage, measured as they pass: size, SHA-256 and the first bytes
 * (for the content type), without holding more than one chunk. Past `limit` bytes the stream
 * fails with TooLarge, so storage never takes more than the upload may.
 */
export class Meter extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  private readonly headChunks: Buffer[] = [];
  private headLength = 0;

  constructor(
    private readonly limit: number,
    private readonly over: TooLarge['kind'],
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      done(new TooLarge(this.over));
      return;
    }
    this.hash.update(chunk);
    if (this.headLength < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.headLength);
      this.headChunks.push(part);
      this.headLength += part.length;
    }
    done(null, chunk);
  }

  get head(): Buffer {
    return Buffer.concat(this.headChunks);
  }

  /** Once the stream has ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}
