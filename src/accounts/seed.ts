import { type SQL, sql } from 'drizzle-orm';
import { type Database, queryRows } from '../platform/db/index.ts';
import { hashPassword } from './passwords.ts';

export const SAMPLE_COMPANIES = ['Acme Corp', 'Globex', 'Initech'];
export const SEED_PASSWORD = 'demo-password-1';

export interface SeedAccountsOptions {
  /** Omitted: the three sample companies. A number: that many generated ones ("Company 0001", ...). */
  companies?: number;
  usersPerCompany: number;
  /** Also a guest (<slug>_guest), who sees only the projects they are made a member of. */
  guest?: boolean;
}

export interface SeededCompany {
  id: number;
  name: string;
  admin: string;
  /** The guest's username, made only when asked. */
  guest: string;
}

/**
 * Companies, each with an admin (<slug>_admin), members (<slug>_user<n>) and, if asked, a guest
 * (<slug>_guest), all with SEED_PASSWORD.
 * Set-based SQL so a thousand companies take a second; running it again adds nothing.
 */
export async function seedAccounts(db: Database, options: SeedAccountsOptions): Promise<SeededCompany[]> {
  // One hash for every seeded user: hashing thousands would take minutes and protect nothing here.
  const passwordHash = await hashPassword(SEED_PASSWORD);
  const names: SQL =
    options.companies === undefined
      ? sql`select unnest(array['Acme Corp', 'Globex', 'Initech']) as name`
      : sql`select 'Company ' || lpad(g::text, 4, '0') as name from generate_series(1, ${options.companies}::int) g`;
  return db.unsafeSystem(async (tx) => {
    await tx.execute(sql`insert into companies (name) select name from (${names}) n on conflict do nothing`);
    const companies = await queryRows<{ id: number; name: string; slug: string }>(
      tx,
      sql`select c.id, c.name, lower(regexp_replace(c.name, '[^A-Za-z0-9]', '', 'g')) as slug
          from companies c join (${names}) n on n.name = c.name order by c.id`,
    );
    const seeded = sql`(select id, lower(regexp_replace(name, '[^A-Za-z0-9]', '', 'g')) as slug from companies
      where id in (${sql.join(
        companies.map((c) => sql`${c.id}`),
        sql`, `,
      )})) c`;
    await tx.execute(sql`
      insert into users (company_id, username, email, password_hash, first_name, last_name, role)
      select c.id,
             c.slug || case when u = 1 then '_admin' else '_user' || (u - 1) end,
             c.slug || case when u = 1 then '_admin' else '_user' || (u - 1) end || '@example.com',
             ${passwordHash},
             (array['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Linus'])[1 + (u - 1) % 8],
             (array['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Torvalds'])[1 + (c.id + u) % 8],
             case when u = 1 then 'admin' else 'member' end
      from ${seeded},
           generate_series(1, ${options.usersPerCompany}::int) u
      on conflict do nothing`);
    if (options.guest === true) {
      await tx.execute(sql`
        insert into users (company_id, username, email, password_hash, first_name, last_name, role)
        select c.id, c.slug || '_guest', c.slug || '_guest@example.com', ${passwordHash}, 'Gus', 'Guest', 'guest'
        from ${seeded}
        on conflict do nothing`);
    }
    return companies.map((c) => ({ id: c.id, name: c.name, admin: `${c.slug}_admin`, guest: `${c.slug}_guest` }));
  });
}
