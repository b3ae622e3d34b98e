import { sql } from 'drizzle-orm';
import { type Database, intArraySql } from '../platform/db/index.ts';

/** The sample labels every seeded company gets, with their colours. */
export const SAMPLE_LABELS: ReadonlyArray<readonly [name: string, color: string]> = [
  ['bug', '#dc2626'],
  ['feature', '#2563eb'],
  ['design', '#9333ea'],
  ['docs', '#0891b2'],
  ['customer', '#ea580c'],
  ['tech debt', '#6b7280'],
];

/** SAMPLE_LABELS in each company, in one statement; a label a company already has is left alone. */
export async function seedLabels(db: Database, companyIds: number[]): Promise<void> {
  if (companyIds.length === 0) return;
  await db.unsafeSystem((tx) =>
    tx.execute(sql`
      insert into labels (company_id, name, color)
      select c.id, l.name, l.color
      from unnest(${intArraySql(companyIds)}) as c(id)
      cross join (values ${sql.join(
        SAMPLE_LABELS.map(([name, color]) => sql`(${name}, ${color})`),
        sql`, `,
      )}) as l(name, color)
      order by c.id
      on conflict do nothing`),
  );
}
