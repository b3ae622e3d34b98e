import { and, asc, eq, inArray, sql } from 'drizzle-orm';
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

export interface LabelRow {
  id: number;
  name: string;
  color: string;
}

const columns = { id: labels.id, name: labels.name, color: labels.color };

export function listLabels(tx: Tx, companyId: number): Promise<LabelRow[]> {
  return tx
    .select(columns)
    .from(labels)
    .where(eq(labels.companyId, companyId))
    .orderBy(sql`lower(${labels.name})`, asc(labels.id));
}

export async function insertLabel(tx: Tx, values: { companyId: number; name: string; color: string }) {
  const [row] = await tx.insert(labels).values(values).returning(columns);
  return row as LabelRow;
}

export async function updateLabel(
  tx: Tx,
  companyId: number,
  id: number,
  changes: Partial<{ name: string; color: string }>,
) {
  const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  // An empty PATCH answers the label as it is: an update that sets its name to itself.
  const [row] = await tx
    .update(labels)
    .set({ name: sql`${labels.name}`, ...given })
    .where(and(eq(labels.companyId, companyId), eq(labels.id, id)))
    .returning(columns);
  return row;
}

export async function deleteLabel(tx: Tx, companyId: number, id: number): Promise<boolean> {
  const rows = await tx
    .delete(labels)
    .where(and(eq(labels.companyId, companyId), eq(labels.id, id)))
    .returning({ id: labels.id });
  return rows.length > 0;
}
