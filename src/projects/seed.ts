import { sql } from 'drizzle-orm';
import { type Database, intArraySql, queryRows } from '../platform/db/index.ts';

/**
 * The sample projects beside each company's default one: two public ones with statuses of their
 * own, and a private one that only some people are in. Their statuses in position order; a status
 * named as one of the three every project starts with is that one, moved.
 */
export const SAMPLE_PROJECTS = [
  {
    key: 'WEB',
    name: 'Web site',
    description: 'The public site and its sign-up.',
    isPrivate: false,
    statuses: [
      ['To do', 'todo', '#6b7280'],
      ['In progress', 'in_progress', '#2563eb'],
      ['Review', 'in_progress', '#d97706'],
      ['Done', 'done', '#16a34a'],
    ],
  },
  {
    key: 'APP',
    name: 'Mobile app',
    description: 'The iOS and Android apps.',
    isPrivate: false,
    statuses: [
      ['To do', 'todo', '#6b7280'],
      ['Blocked', 'todo', '#dc2626'],
      ['In progress', 'in_progress', '#2563eb'],
      ['QA', 'in_progress', '#9333ea'],
      ['Done', 'done', '#16a34a'],
    ],
  },
  {
    key: 'FIN',
    name: 'Finance',
    description: 'Budgets and salaries: members only.',
    isPrivate: true,
    statuses: [
      ['To do', 'todo', '#6b7280'],
      ['In progress', 'in_progress', '#2563eb'],
      ['Done', 'done', '#16a34a'],
    ],
  },
] as const;

/**
 * Who is in which sample project: [project key, company role, n, project role] names the n-th user
 * of that company role (by id; admin 1 is <slug>_admin, member n is <slug>_user<n>, guest 1 is
 * <slug>_guest). Users a company does not have are skipped. Everyone else sees the public projects
 * as company members do, and the private one not at all (company admins see it as its managers).
 */
export const SAMPLE_MEMBERS: ReadonlyArray<readonly [string, 'admin' | 'member' | 'guest', number, string]> = [
  ['WEB', 'admin', 1, 'manager'],
  ['WEB', 'member', 1, 'member'],
  ['WEB', 'member', 2, 'member'],
  ['WEB', 'guest', 1, 'member'],
  ['APP', 'admin', 1, 'manager'],
  ['APP', 'member', 3, 'member'],
  ['APP', 'member', 4, 'viewer'],
  ['FIN', 'admin', 1, 'manager'],
  ['FIN', 'member', 1, 'member'],
];

/**
 * SAMPLE_PROJECTS in each company, with their statuses and SAMPLE_MEMBERS, made by their first
 * admin: a few statements for any number of companies. A company that already has a project of
 * one of those keys keeps it untouched. Returns how many projects were made.
 */
export async function seedProjects(db: Database, companyIds: number[]): Promise<number> {
  if (companyIds.length === 0) return 0;
  const samples = sql.join(
    SAMPLE_PROJECTS.map((p) => sql`(${p.key}, ${p.name}, ${p.description}, ${p.isPrivate}::boolean)`),
    sql`, `,
  );
  const wanted = sql.join(
    SAMPLE_PROJECTS.flatMap((p) =>
      p.statuses.map(
        ([name, category, color], position) => sql`(${p.key}, ${name}, ${category}, ${position}::int, ${color})`,
      ),
    ),
    sql`, `,
  );
  const members = sql.join(
    SAMPLE_MEMBERS.map(([key, companyRole, n, role]) => sql`(${key}, ${companyRole}, ${n}::int, ${role})`),
    sql`, `,
  );
  return db.unsafeSystem(async (tx) => {
    const made = await queryRows<{ company_id: number; id: number; key: string }>(
      tx,
      sql`insert into projects (company_id, key, name, description, is_private, created_by)
          select c.id, p.key, p.name, p.description, p.is_private,
                 (select min(u.id) from users u where u.company_id = c.id and u.role = 'admin')
          from unnest(${intArraySql(companyIds)}) as c(id)
          cross join (values ${samples}) as p(key, name, description, is_private)
          order by c.id, p.key
          on conflict do nothing
          returning company_id, id, key`,
    );
    if (made.length === 0) return 0;
    // The projects just made, as (company, id, key) rows for the statements below.
    const madeSql = sql`(select * from unnest(${intArraySql(made.map((p) => p.company_id))}, ${intArraySql(
      made.map((p) => p.id),
    )}, array[${sql.join(
      made.map((p) => sql`${p.key}`),
      sql`, `,
    )}]::text[]) as m(company_id, id, key))`;
    // The three statuses every project starts with, moved where the sample wants them; then the others.
    await tx.execute(sql`
      update statuses s set position = w.position, color = w.color
      from ${madeSql} m, (values ${wanted}) as w(key, name, category, position, color)
      where s.company_id = m.company_id and s.project_id = m.id and w.key = m.key and s.name = w.name`);
    await tx.execute(sql`
      insert into statuses (company_id, project_id, name, category, position, color)
      select m.company_id, m.id, w.name, w.category, w.position, w.color
      from ${madeSql} m join (values ${wanted}) as w(key, name, category, position, color) on w.key = m.key
      where not exists (select 1 from statuses s where s.company_id = m.company_id and s.project_id = m.id
                          and s.name = w.name)
      order by m.company_id, m.id, w.position`);
    await tx.execute(sql`
      insert into project_members (company_id, project_id, user_id, role)
      select m.company_id, m.id, u.id, w.role
      from ${madeSql} m
      join (values ${members}) as w(key, company_role, n, role) on w.key = m.key
      join (select company_id, id, role,
                   row_number() over (partition by company_id, role order by id)::int as n
            from users where company_id = any(${intArraySql(companyIds)}) and is_active) u
        on u.company_id = m.company_id and u.role = w.company_role and u.n = w.n
      order by m.company_id, m.id, u.id`);
    return made.length;
  });
}
