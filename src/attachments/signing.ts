import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long a download link works without the Authorization header. */
export const LINK_TTL_SECONDS = 10 * 60;

export interface SignedDownload {
  companyId: number;
  attachmentId: number;
}

/**
 * Download links a browser can follow without the Authorization header: the attachment, its
 * company and an expiry, under an HMAC-SHA256 whose key is derived from JWT_SECRET (a purpose of
 * its own, so that no token signature can stand in for a link's, nor the reverse).
 */
export class DownloadSigner {
  private readonly key: Buffer;

  constructor(
    jwtSecret: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', jwtSecret).update('attachment-download-links').digest();
  }

  private signature(companyId: number, attachmentId: number, expires: number): string {
    return createHmac('sha256', this.key).update(`${companyId}.${attachmentId}.${expires}`).digest('base64url');
  }

  /** The path with its query: `/api/attachments/<id>/download/?c=<company>&e=<expiry>&s=<signature>`. */
  url(companyId: number, attachmentId: number): string {
    const expires = Math.floor(this.now() / 1000) + LINK_TTL_SECONDS;
    const signature = this.signature(companyId, attachmentId, expires);
    return `/api/attachments/${attachmentId}/download/?c=${companyId}&e=${expires}&s=${signature}`;
  }

  /** The link's company when its signature is right and it has not expired; undefined otherwise. */
  verify(attachmentId: number, query: { c?: string; e?: string; s?: string }): SignedDownload | undefined {
    const companyId = Number(query.c);
    const expires = Number(query.e);
    if (!Number.isSafeInteger(companyId) || companyId <= 0 || !Number.isSafeInteger(expires)) return undefined;
    if (expires * 1000 < this.now()) return undefined;
    const expected = Buffer.from(this.signature(companyId, attachmentId, expires));
    const given = Buffer.from(query.s ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return { companyId, attachmentId };
  }
}
