-- Row-level security: the backstop behind the company scoping that every query does in code.
-- The application never touches tables as their owner: each transaction switches to one of two
-- roles that own nothing. tasks_app sees only the rows of the company named by the transaction's
-- app.company_id setting (none when it is unset); tasks_system, used by the few explicitly
-- "unsafe" operations that must work across companies (login lookup, registration, jobs), sees all.
-- FORCE makes the owner obey the policies too, so a connection that forgets to switch role sees nothing.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tasks_app') THEN
    CREATE ROLE tasks_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tasks_system') THEN
    CREATE ROLE tasks_system NOLOGIN;
  END IF;
  IF NOT pg_has_role(current_user, 'tasks_app', 'MEMBER') THEN
    EXECUTE format('GRANT tasks_app TO %I', current_user);
  END IF;
  IF NOT pg_has_role(current_user, 'tasks_system', 'MEMBER') THEN
    EXECUTE format('GRANT tasks_system TO %I', current_user);
  END IF;
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO tasks_app, tasks_system;
--> statement-breakpoint
-- Later migrations call this for each new tenant table, so no table can miss a step.
-- NULLIF: current_setting(..., true) is '' (not NULL) after a transaction that set it locally.
CREATE FUNCTION enable_tenant_isolation(tbl regclass, company_column name DEFAULT 'company_id')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO tasks_app, tasks_system', tbl);
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %1$s TO tasks_app'
    ' USING (%2$I = NULLIF(current_setting(''app.company_id'', true), '''')::int)'
    ' WITH CHECK (%2$I = NULLIF(current_setting(''app.company_id'', true), '''')::int)',
    tbl, company_column);
  EXECUTE format('CREATE POLICY system_access ON %s TO tasks_system USING (true) WITH CHECK (true)', tbl);
END
$$;
--> statement-breakpoint
SELECT enable_tenant_isolation('companies', 'id');
--> statement-breakpoint
SELECT enable_tenant_isolation('users');
--> statement-breakpoint
SELECT enable_tenant_isolation('refresh_tokens');
--> statement-breakpoint
SELECT enable_tenant_isolation('invitations');
--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO tasks_app, tasks_system;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO tasks_app, tasks_system;
