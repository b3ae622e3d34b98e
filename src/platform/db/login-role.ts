import type pg from 'pg';
import type { Database } from './index.ts';

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Names a PostgreSQL role may take here: plain lower-case identifiers, so no quoting is needed. */
export function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name)) {
    throw new Error(`"${name}" is not a role name: use lower-case letters, digits and _ (63 at most)`);
  }
  if (['tasks_app', 'tasks_system', 'postgres', 'public'].includes(name)) {
    throw new Error(`"${name}" is taken: name a role of its own for the application to log in as`);
  }
}

/**
 * The role the application should log in as on PostgreSQL: neither superuser nor owner of the
 * tables, so row-level security holds for it. It may switch to the application roles (tasks_app,
 * tasks_system) and, being NOINHERIT, has none of their rights before it does: a connection that
 * forgot to switch sees no tenant row at all. It reads which migrations ran, and it owns pg-boss's
 * schema (job bookkeeping, no tenant data), whose tables pg-boss creates and alters as it starts.
 * Run as the tables' owner (a superuser, or a role with CREATEROLE), after the migrations.
 */
export async function createLoginRole(db: Database, name: string, password?: string): Promise<void> {
  checkRoleName(name);
  const client = await (db.client as pg.Pool).connect();
  try {
    const { rows } = await client.query<{ superuser: boolean; database: string }>(
      'select rolsuper as superuser, current_database() as database from pg_roles where rolname = current_user',
    );
    const { superuser, database } = rows[0] as { superuser: boolean; database: string };
    await client.query('begin');
    await client.query(
      `do $$ begin
         if not exists (select 1 from pg_roles where rolname = '${name}') then create role ${name} login; end if;
       end $$`,
    );
    const secret = password === undefined ? '' : ` password ${client.escapeLiteral(password)}`;
    await client.query(`alter role ${name} login nosuperuser nobypassrls nocreatedb nocreaterole noinherit${secret}`);
    await client.query(`grant tasks_app, tasks_system to ${name}`);
    await client.query(`grant connect on database ${client.escapeIdentifier(database)} to ${name}`);
    await client.query(`grant usage on schema drizzle to ${name}`);
    await client.query(`grant select on all tables in schema drizzle to ${name}`);
    // Handing pg-boss's objects over takes being able to act as the new owner.
    if (!superuser) await client.query(`grant ${name} to current_user`);
    await client.query(
      `do $$
       declare object record;
       begin
         if not exists (select 1 from pg_namespace where nspname = 'pgboss') then
           create schema pgboss authorization ${name};
           return;
         end if;
         alter schema pgboss owner to ${name};
         for object in
           select c.relname, c.relkind from pg_class c
           where c.relnamespace = 'pgboss'::regnamespace and c.relkind in ('r', 'p', 'v', 'S')
         loop
           execute format(case object.relkind when 'S' then 'alter sequence pgboss.%I owner to ${name}'
                                              when 'v' then 'alter view pgboss.%I owner to ${name}'
                                              else 'alter table pgboss.%I owner to ${name}' end, object.relname);
         end loop;
         for object in select p.oid::regprocedure as fn from pg_proc p where p.pronamespace = 'pgboss'::regnamespace loop
           execute format('alter routine %s owner to ${name}', object.fn);
         end loop;
         for object in select t.typname from pg_type t
                       where t.typnamespace = 'pgboss'::regnamespace and t.typtype = 'e' loop
           execute format('alter type pgboss.%I owner to ${name}', object.typname);
         end loop;
       end $$`,
    );
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Why row-level security does not bind the role this process logs in as, if it does not: a
 * superuser or a BYPASSRLS role skips it, and the tables' owner (or a role with its rights) can
 * turn it off. Empty when it holds.
 */
export async function rlsBypassReasons(db: Database): Promise<string[]> {
  const { rows } = await (db.client as pg.Pool).query<{
    role: string;
    superuser: boolean;
    bypassrls: boolean;
    owner: boolean;
  }>(
    `select current_user as role, r.rolsuper as superuser, r.rolbypassrls as bypassrls,
            exists (select 1 from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
                    and c.relrowsecurity and pg_has_role(current_user, c.relowner, 'USAGE')) as owner
       from pg_roles r where r.rolname = current_user`,
  );
  const row = rows[0];
  if (row === undefined) return [];
  const reasons: string[] = [];
  if (row.superuser) reasons.push(`${row.role} is a superuser`);
  if (row.bypassrls) reasons.push(`${row.role} has BYPASSRLS`);
  if (row.owner) reasons.push(`${row.role} owns the tables (or has their owner's rights)`);
  return reasons;
}
