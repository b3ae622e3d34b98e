import { and, eq, inArray } from 'drizzle-orm';
import type { Tx } from '../platform/db/index.ts';
import { labels } from '../platform/db/schema.ts';

/** Which of these ids are labels of the company: what tasks check before putting labels on a task. */
export async function existingLabelIds(tx: Tx, companyId: number, ids: number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const rows = await tx
    .select({ id: labels.id })
    .from(labels)
    .where(and(eq(labels.companyId, companyId), inArray(labels.id, ids)));
  return new Set(rows.map((r) => r.id));
}
