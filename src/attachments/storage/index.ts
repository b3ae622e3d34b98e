import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../../platform/config.ts';
import { LocalStorage } from './local.ts';
import { S3Storage } from './s3.ts';

/** An inclusive byte range, as HTTP's Range names it. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where attachments' bytes live, behind the few operations the feature needs. put() resolves once
 * the bytes are durable (renamed into place after fsync, or the upload completed), and leaves
 * nothing behind when it fails or the source errors (a client that went away).
 */
export interface Storage {
  put(key: string, source: Readable): Promise<void>;
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Idempotent: a key that is not there is no error. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Every key stored under a prefix (tests and the operators' checks). */
  list(prefix: string): Promise<string[]>;
}

/** S3-compatible storage when S3_BUCKET is set, else DATA_DIR/attachments. */
export function createStorage(config: Pick<Config, 's3' | 'dataDir'>): Storage {
  if (config.s3 !== undefined) return new S3Storage(config.s3);
  return new LocalStorage(path.join(config.dataDir, 'attachments'));
}
