import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../platform/db/index.ts';
import { attachmentGarbage, attachments, attachmentUploads, storageUsage } from '../platform/db/schema.ts';

export interface AttachmentRow {
  id: number;
  companyId: number;
  taskId: number;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
  storageKey: string;
  uploadedBy: number;
  createdAt: Date;
}

const columns = {
  id: attachments.id,
  companyId: attachments.companyId,
  taskId: attachments.taskId,
  filename: attachments.filename,
  contentType: attachments.contentType,
  size: attachments.size,
  sha256: attachments.sha256,
  storageKey: attachments.storageKey,
  uploadedBy: attachments.uploadedBy,
  createdAt: attachments.createdAt,
};

/** Newest first. Row-level security shows only the attachments of tasks the transaction's user sees. */
export function listForTask(tx: Tx, companyId: number, taskId: number): Promise<AttachmentRow[]> {
  return tx
    .select(columns)
    .from(attachments)
    .where(and(eq(attachments.companyId, companyId), eq(attachments.taskId, taskId)))
    .orderBy(desc(attachments.createdAt), desc(attachments.id));
}

export async function findAttachment(tx: Tx, companyId: number, id: number): Promise<AttachmentRow | undefined> {
  const [row] = await tx
    .select(columns)
    .from(attachments)
    .where(and(eq(attachments.companyId, companyId), eq(attachments.id, id)));
  return row;
}

export async function insertAttachment(
  tx: Tx,
  values: Omit<AttachmentRow, 'id' | 'createdAt'>,
): Promise<AttachmentRow> {
  const [row] = await tx.insert(attachments).values(values).returning(columns);
  return row as AttachmentRow;
}

/** Its bytes are queued in attachment_garbage by the table's trigger. */
export async function deleteAttachment(tx: Tx, companyId: number, id: number): Promise<boolean> {
  const rows = await tx
    .delete(attachments)
    .where(and(eq(attachments.companyId, companyId), eq(attachments.id, id)))
    .returning({ id: attachments.id });
  return rows.length > 0;
}

/**
 * The company's stored bytes and those reserved by uploads under way, with its usage row locked
 * until the transaction ends: reservations and commits of one company take turns here, so two
 * uploads can never both fit in the same room.
 */
export async function lockedUsage(tx: Tx, companyId: number): Promise<{ stored: number; reserved: number }> {
  await tx.insert(storageUsage).values({ companyId, bytes: 0 }).onConflictDoNothing();
  // The lock first, the figures in a statement of their own: a statement's snapshot is taken when
  // it starts, so counting in the locking statement would miss a reservation committed while it
  // waited for the lock (READ COMMITTED re-reads only the locked row itself).
  await tx.execute(sql`select 1 from storage_usage where company_id = ${companyId} for update`);
  const [row] = await queryRows<{ stored: string; reserved: string }>(
    tx,
    sql`select u.bytes as stored,
          (select coalesce(sum(r.reserved), 0) from attachment_uploads r where r.company_id = u.company_id) as reserved
        from storage_usage u where u.company_id = ${companyId}`,
  );
  return { stored: Number(row?.stored ?? 0), reserved: Number(row?.reserved ?? 0) };
}

/** The company's stored bytes, as the trigger keeps them. */
export async function storedBytes(tx: Tx, companyId: number): Promise<number> {
  const [row] = await tx
    .select({ bytes: storageUsage.bytes })
    .from(storageUsage)
    .where(eq(storageUsage.companyId, companyId));
  return row?.bytes ?? 0;
}

export async function insertUpload(tx: Tx, companyId: number, storageKey: string, reserved: number): Promise<void> {
  await tx.insert(attachmentUploads).values({ companyId, storageKey, reserved });
}

/** False when it was not there any more (collected as an orphan meanwhile). */
export async function deleteUpload(tx: Tx, companyId: number, storageKey: string): Promise<boolean> {
  const rows = await tx
    .delete(attachmentUploads)
    .where(and(eq(attachmentUploads.companyId, companyId), eq(attachmentUploads.storageKey, storageKey)))
    .returning({ key: attachmentUploads.storageKey });
  return rows.length > 0;
}

export interface StoredKey {
  companyId: number;
  storageKey: string;
}

/** Uploads begun before `before` and never finished: their process died (or hangs) between storing and recording. */
export function unsafeStaleUploads(tx: Tx, before: Date, limit: number): Promise<StoredKey[]> {
  return tx
    .select({ companyId: attachmentUploads.companyId, storageKey: attachmentUploads.storageKey })
    .from(attachmentUploads)
    .where(lt(attachmentUploads.createdAt, before))
    .orderBy(attachmentUploads.createdAt)
    .limit(limit);
}

export function unsafeGarbage(tx: Tx, limit: number): Promise<StoredKey[]> {
  return tx
    .select({ companyId: attachmentGarbage.companyId, storageKey: attachmentGarbage.storageKey })
    .from(attachmentGarbage)
    .orderBy(attachmentGarbage.createdAt)
    .limit(limit);
}

export async function unsafeForgetGarbage(tx: Tx, key: StoredKey): Promise<void> {
  await tx
    .delete(attachmentGarbage)
    .where(and(eq(attachmentGarbage.companyId, key.companyId), eq(attachmentGarbage.storageKey, key.storageKey)));
}
