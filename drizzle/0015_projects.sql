-- Version 2's projects, workflow statuses and labels. Every company gets its default project
-- "General" (key GEN) with the three default statuses, and every task moves into it with a number
-- in creation order and the state matching its status. The statistics' counters are kept per
-- project from here on. Row-level security gains the projects a user sees: a transaction that names
-- its user (app.user_id) sees only the rows of the projects that user sees, as a company admin, a
-- company member in a public project, or a member of the project.
CREATE TABLE "labels" (
	"company_id" integer NOT NULL,
	"id" integer GENERATED ALWAYS AS IDENTITY (sequence name "labels_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"color" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "labels_company_id_id_pk" PRIMARY KEY("company_id","id")
);
--> statement-breakpoint
CREATE TABLE "project_members" (
	"company_id" integer NOT NULL,
	"project_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "project_members_company_id_project_id_user_id_pk" PRIMARY KEY("company_id","project_id","user_id"),
	CONSTRAINT "project_members_role_check" CHECK ("project_members"."role" in ('manager', 'member', 'viewer'))
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"company_id" integer NOT NULL,
	"id" integer GENERATED ALWAYS AS IDENTITY (sequence name "projects_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"key" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"is_private" boolean DEFAULT false NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"archived" boolean DEFAULT false NOT NULL,
	"created_by" integer,
	"next_number" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_company_id_id_pk" PRIMARY KEY("company_id","id"),
	CONSTRAINT "projects_default_public_check" CHECK (not ("projects"."is_default" and ("projects"."is_private" or "projects"."archived")))
);
--> statement-breakpoint
CREATE TABLE "statuses" (
	"company_id" integer NOT NULL,
	"id" integer GENERATED ALWAYS AS IDENTITY (sequence name "statuses_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"project_id" integer NOT NULL,
	"name" text NOT NULL,
	"category" text NOT NULL,
	"position" integer NOT NULL,
	"color" text NOT NULL,
	CONSTRAINT "statuses_company_id_id_pk" PRIMARY KEY("company_id","id"),
	CONSTRAINT "statuses_category_check" CHECK ("statuses"."category" in ('todo', 'in_progress', 'done'))
);
--> statement-breakpoint
CREATE TABLE "task_labels" (
	"company_id" integer NOT NULL,
	"task_id" integer NOT NULL,
	"label_id" integer NOT NULL,
	CONSTRAINT "task_labels_company_id_task_id_label_id_pk" PRIMARY KEY("company_id","task_id","label_id")
);
--> statement-breakpoint
ALTER TABLE "invitations" DROP CONSTRAINT "invitations_role_check";
--> statement-breakpoint
ALTER TABLE "users" DROP CONSTRAINT "users_role_check";
--> statement-breakpoint
ALTER TABLE "labels" ADD CONSTRAINT "labels_company_id_companies_id_fk" FOREIGN KEY ("company_id") REFERENCES "public"."companies"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_company_id_project_id_projects_company_id_id_fk" FOREIGN KEY ("company_id","project_id") REFERENCES "public"."projects"("company_id","id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_company_id_user_id_users_company_id_id_fk" FOREIGN KEY ("company_id","user_id") REFERENCES "public"."users"("company_id","id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_company_id_companies_id_fk" FOREIGN KEY ("company_id") REFERENCES "public"."companies"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_company_id_created_by_users_company_id_id_fk" FOREIGN KEY ("company_id","created_by") REFERENCES "public"."users"("company_id","id") ON DELETE SET NULL ("created_by") ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "statuses" ADD CONSTRAINT "statuses_company_id_project_id_projects_company_id_id_fk" FOREIGN KEY ("company_id","project_id") REFERENCES "public"."projects"("company_id","id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "task_labels" ADD CONSTRAINT "task_labels_company_id_task_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","task_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "task_labels" ADD CONSTRAINT "task_labels_company_id_label_id_labels_company_id_id_fk" FOREIGN KEY ("company_id","label_id") REFERENCES "public"."labels"("company_id","id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE UNIQUE INDEX "labels_name_key" ON "labels" USING btree ("company_id",lower("name"));
--> statement-breakpoint
CREATE INDEX "project_members_user_idx" ON "project_members" USING btree ("company_id","user_id");
--> statement-breakpoint
CREATE UNIQUE INDEX "projects_key_key" ON "projects" USING btree ("company_id",upper("key"));
--> statement-breakpoint
CREATE UNIQUE INDEX "projects_default_key" ON "projects" USING btree ("company_id") WHERE "projects"."is_default";
--> statement-breakpoint
CREATE INDEX "projects_name_idx" ON "projects" USING btree ("company_id",lower("name"),"id");
--> statement-breakpoint
CREATE UNIQUE INDEX "statuses_project_id_key" ON "statuses" USING btree ("company_id","project_id","id");
--> statement-breakpoint
CREATE UNIQUE INDEX "statuses_name_key" ON "statuses" USING btree ("company_id","project_id",lower("name"));
--> statement-breakpoint
CREATE INDEX "statuses_position_idx" ON "statuses" USING btree ("company_id","project_id","position");
--> statement-breakpoint
CREATE INDEX "task_labels_label_idx" ON "task_labels" USING btree ("company_id","label_id","task_id");
--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_role_check" CHECK ("invitations"."role" in ('admin', 'member', 'guest'));
--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_role_check" CHECK ("users"."role" in ('admin', 'member', 'guest'));
--> statement-breakpoint
SELECT enable_tenant_isolation('projects');
--> statement-breakpoint
SELECT enable_tenant_isolation('project_members');
--> statement-breakpoint
SELECT enable_tenant_isolation('statuses');
--> statement-breakpoint
SELECT enable_tenant_isolation('labels');
--> statement-breakpoint
SELECT enable_tenant_isolation('task_labels');
--> statement-breakpoint
-- A new project starts with one status of each category.
CREATE FUNCTION project_default_statuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO statuses (company_id, project_id, name, category, position, color)
  SELECT n.company_id, n.id, s.name, s.category, s.position, s.color
  FROM new_rows n
  CROSS JOIN (VALUES ('To do', 'todo', 0, '#6b7280'), ('In progress', 'in_progress', 1, '#2563eb'),
                     ('Done', 'done', 2, '#16a34a')) AS s(name, category, position, color)
  ORDER BY n.company_id, n.id, s.position;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER project_default_statuses AFTER INSERT ON projects
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION project_default_statuses();
--> statement-breakpoint
-- Every company has its default project from its first moment, however it was made.
CREATE FUNCTION company_default_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO projects (company_id, key, name, is_default)
  SELECT id, 'GEN', 'General', true FROM new_rows ORDER BY id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER company_default_project AFTER INSERT ON companies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION company_default_project();
--> statement-breakpoint
INSERT INTO projects (company_id, key, name, is_default) SELECT id, 'GEN', 'General', true FROM companies ORDER BY id;
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "project_id" integer;
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "number" integer;
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "state_id" integer;
--> statement-breakpoint
UPDATE tasks t SET project_id = p.id, number = n.number, state_id = s.id
FROM projects p, statuses s,
     (SELECT company_id, id, row_number() OVER (PARTITION BY company_id ORDER BY created_at, id)::int AS number
      FROM tasks) n
WHERE p.company_id = t.company_id AND p.is_default
  AND s.company_id = p.company_id AND s.project_id = p.id AND s.category = t.status
  AND n.company_id = t.company_id AND n.id = t.id;
--> statement-breakpoint
UPDATE projects p SET next_number = 1 + (SELECT count(*) FROM tasks t WHERE t.company_id = p.company_id)
WHERE p.is_default;
--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "project_id" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "number" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "state_id" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_company_id_project_id_projects_company_id_id_fk" FOREIGN KEY ("company_id","project_id") REFERENCES "public"."projects"("company_id","id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_company_id_project_id_state_id_statuses_company_id_project_id_id_fk" FOREIGN KEY ("company_id","project_id","state_id") REFERENCES "public"."statuses"("company_id","project_id","id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_number_key" ON "tasks" USING btree ("company_id","project_id","number");
--> statement-breakpoint
CREATE INDEX "tasks_project_idx" ON "tasks" USING btree ("company_id","project_id","created_at","id");
--> statement-breakpoint
CREATE INDEX "tasks_state_idx" ON "tasks" USING btree ("company_id","state_id");
--> statement-breakpoint
ALTER TABLE "task_assignee_counts" DROP CONSTRAINT "task_assignee_counts_company_id_assigned_to_shard_pk";
--> statement-breakpoint
ALTER TABLE "task_days" DROP CONSTRAINT "task_days_company_id_day_shard_pk";
--> statement-breakpoint
ALTER TABLE "task_stats" DROP CONSTRAINT "task_stats_company_id_shard_pk";
--> statement-breakpoint
ALTER TABLE "task_assignee_counts" ADD COLUMN "project_id" integer;
--> statement-breakpoint
UPDATE task_assignee_counts c SET project_id = p.id FROM projects p WHERE p.company_id = c.company_id AND p.is_default;
--> statement-breakpoint
ALTER TABLE "task_assignee_counts" ALTER COLUMN "project_id" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "task_days" ADD COLUMN "project_id" integer;
--> statement-breakpoint
UPDATE task_days c SET project_id = p.id FROM projects p WHERE p.company_id = c.company_id AND p.is_default;
--> statement-breakpoint
ALTER TABLE "task_days" ALTER COLUMN "project_id" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "task_stats" ADD COLUMN "project_id" integer;
--> statement-breakpoint
UPDATE task_stats c SET project_id = p.id FROM projects p WHERE p.company_id = c.company_id AND p.is_default;
--> statement-breakpoint
ALTER TABLE "task_stats" ALTER COLUMN "project_id" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "task_assignee_counts" ADD CONSTRAINT "task_assignee_counts_company_id_project_id_assigned_to_shard_pk" PRIMARY KEY("company_id","project_id","assigned_to","shard");
--> statement-breakpoint
ALTER TABLE "task_days" ADD CONSTRAINT "task_days_company_id_project_id_day_shard_pk" PRIMARY KEY("company_id","project_id","day","shard");
--> statement-breakpoint
ALTER TABLE "task_stats" ADD CONSTRAINT "task_stats_company_id_project_id_shard_pk" PRIMARY KEY("company_id","project_id","shard");
--> statement-breakpoint
-- Which state, project and number a written task has, when the write leaves them out: version 1's
-- requests name only a status, and a task moved to another project takes the first status of its
-- category there and that project's next number. status stays the category of the state: writing
-- a state sets it; writing a status keeps a state of that category (so a status whose category
-- changes takes its tasks along) and otherwise takes the project's first one. The number comes from
-- the project's row, locked until the write commits: in commit order, without gaps, never twice.
CREATE FUNCTION tasks_fill_project() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  state_category text;
BEGIN
  IF NEW.project_id IS NULL THEN
    SELECT id INTO NEW.project_id FROM projects WHERE company_id = NEW.company_id AND is_default;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.project_id IS DISTINCT FROM OLD.project_id THEN
    IF TG_OP = 'UPDATE' AND NEW.state_id IS NOT DISTINCT FROM OLD.state_id THEN
      NEW.state_id := NULL;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.number IS NOT DISTINCT FROM OLD.number THEN
      UPDATE projects SET next_number = next_number + 1
      WHERE company_id = NEW.company_id AND id = NEW.project_id
      RETURNING next_number - 1 INTO NEW.number;
    END IF;
  END IF;
  IF NEW.state_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.state_id IS DISTINCT FROM OLD.state_id) THEN
    SELECT category INTO state_category FROM statuses
    WHERE company_id = NEW.company_id AND project_id = NEW.project_id AND id = NEW.state_id;
    -- A state of another project is left for the foreign key to refuse.
    IF state_category IS NOT NULL THEN
      NEW.status := state_category;
    END IF;
  ELSE
    IF NEW.state_id IS NOT NULL THEN
      SELECT category INTO state_category FROM statuses
      WHERE company_id = NEW.company_id AND project_id = NEW.project_id AND id = NEW.state_id;
    END IF;
    IF state_category IS DISTINCT FROM NEW.status THEN
      SELECT id INTO NEW.state_id FROM statuses
      WHERE company_id = NEW.company_id AND project_id = NEW.project_id AND category = NEW.status
      ORDER BY position, id LIMIT 1;
    END IF;
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER tasks_fill_project BEFORE INSERT OR UPDATE OF project_id, state_id, status, number ON tasks
  FOR EACH ROW EXECUTE FUNCTION tasks_fill_project();
--> statement-breakpoint
ALTER TYPE task_statistics_delta ADD ATTRIBUTE project_id integer;
--> statement-breakpoint
-- The counters' trigger function (0014) keeping each counter per project: the same deltas, grouped
-- by company and project. A task moved to another project moves its counts.
CREATE OR REPLACE FUNCTION task_counters_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deltas task_statistics_delta[];
  assignees boolean;
  days boolean;
  my_shard CONSTANT smallint := pg_backend_pid() % 16;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(ROW(company_id, 1, status, priority, assigned_to, due_date, created_at, completed_at, project_id)::task_statistics_delta),
           bool_or(assigned_to IS NOT NULL), true
    INTO deltas, assignees, days
    FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(ROW(company_id, -1, status, priority, assigned_to, due_date, created_at, completed_at, project_id)::task_statistics_delta),
           bool_or(assigned_to IS NOT NULL), true
    INTO deltas, assignees, days
    FROM old_rows;
  ELSE
    SELECT array_agg(v.d),
           bool_or(o.assigned_to IS DISTINCT FROM n.assigned_to OR o.project_id IS DISTINCT FROM n.project_id
                   OR (o.assigned_to IS NOT NULL AND (o.status = 'done') IS DISTINCT FROM (n.status = 'done'))),
           bool_or(o.created_at IS DISTINCT FROM n.created_at OR o.due_date IS DISTINCT FROM n.due_date
                   OR o.project_id IS DISTINCT FROM n.project_id
                   OR (o.status = 'done') IS DISTINCT FROM (n.status = 'done'))
    INTO deltas, assignees, days
    FROM old_rows o
    FULL JOIN new_rows n ON n.company_id = o.company_id AND n.id = o.id
    CROSS JOIN LATERAL (VALUES
      (ROW(o.company_id, -1, o.status, o.priority, o.assigned_to, o.due_date, o.created_at, o.completed_at, o.project_id)::task_statistics_delta),
      (ROW(n.company_id, 1, n.status, n.priority, n.assigned_to, n.due_date, n.created_at, n.completed_at, n.project_id)::task_statistics_delta)
    ) AS v(d)
    WHERE (o.status, o.priority, o.assigned_to, o.due_date, o.created_at, o.completed_at, o.project_id)
          IS DISTINCT FROM (n.status, n.priority, n.assigned_to, n.due_date, n.created_at, n.completed_at, n.project_id)
      AND (v.d).company_id IS NOT NULL;
  END IF;
  IF deltas IS NULL THEN
    RETURN NULL;
  END IF;

  INSERT INTO task_stats AS s (company_id, project_id, shard, todo, in_progress, done, low, medium, high, urgent,
                               unassigned, completed, completion_seconds)
  SELECT company_id, project_id, my_shard, todo, in_progress, done, low, medium, high, urgent, unassigned, completed,
         seconds
  FROM (
    SELECT company_id, project_id,
           sum(CASE WHEN status = 'todo' THEN delta ELSE 0 END)::int AS todo,
           sum(CASE WHEN status = 'in_progress' THEN delta ELSE 0 END)::int AS in_progress,
           sum(CASE WHEN status = 'done' THEN delta ELSE 0 END)::int AS done,
           sum(CASE WHEN priority = 'low' THEN delta ELSE 0 END)::int AS low,
           sum(CASE WHEN priority = 'medium' THEN delta ELSE 0 END)::int AS medium,
           sum(CASE WHEN priority = 'high' THEN delta ELSE 0 END)::int AS high,
           sum(CASE WHEN priority = 'urgent' THEN delta ELSE 0 END)::int AS urgent,
           sum(CASE WHEN assigned_to IS NULL THEN delta ELSE 0 END)::int AS unassigned,
           sum(CASE WHEN status = 'done' AND completed_at IS NOT NULL THEN delta ELSE 0 END)::int AS completed,
           coalesce(sum(delta * extract(epoch FROM completed_at - created_at)) FILTER (WHERE status = 'done'), 0)
             AS seconds
    FROM unnest(deltas)
    GROUP BY company_id, project_id
  ) changes
  WHERE (todo, in_progress, done, low, medium, high, urgent, unassigned, completed, seconds)
        IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0::numeric)
  ORDER BY company_id, project_id
  ON CONFLICT (company_id, project_id, shard) DO UPDATE SET
    todo = s.todo + excluded.todo,
    in_progress = s.in_progress + excluded.in_progress,
    done = s.done + excluded.done,
    low = s.low + excluded.low,
    medium = s.medium + excluded.medium,
    high = s.high + excluded.high,
    urgent = s.urgent + excluded.urgent,
    unassigned = s.unassigned + excluded.unassigned,
    completed = s.completed + excluded.completed,
    completion_seconds = s.completion_seconds + excluded.completion_seconds;

  IF assignees THEN
    INSERT INTO task_assignee_counts AS a (company_id, project_id, assigned_to, shard, total, done)
    SELECT company_id, project_id, assigned_to, my_shard, sum(delta),
           sum(CASE WHEN status = 'done' THEN delta ELSE 0 END)
    FROM unnest(deltas)
    WHERE assigned_to IS NOT NULL
    GROUP BY company_id, project_id, assigned_to
    HAVING sum(delta) <> 0 OR sum(CASE WHEN status = 'done' THEN delta ELSE 0 END) <> 0
    ORDER BY company_id, project_id, assigned_to
    ON CONFLICT (company_id, project_id, assigned_to, shard) DO UPDATE SET
      total = a.total + excluded.total,
      done = a.done + excluded.done;
  END IF;

  IF days THEN
    INSERT INTO task_days AS d (company_id, project_id, day, shard, created, open_due)
    SELECT t.company_id, t.project_id, v.day, my_shard, sum(v.created), sum(v.open_due)
    FROM unnest(deltas) AS t
    CROSS JOIN LATERAL (VALUES
      ((t.created_at AT TIME ZONE 'UTC')::date, t.delta, 0),
      (CASE WHEN t.status <> 'done' THEN (t.due_date AT TIME ZONE 'UTC')::date END, 0, t.delta)
    ) AS v(day, created, open_due)
    WHERE v.day IS NOT NULL
    GROUP BY t.company_id, t.project_id, v.day
    HAVING sum(v.created) <> 0 OR sum(v.open_due) <> 0
    ORDER BY t.company_id, t.project_id, v.day
    ON CONFLICT (company_id, project_id, day, shard) DO UPDATE SET
      created = d.created + excluded.created,
      open_due = d.open_due + excluded.open_due;
  END IF;

  RETURN NULL;
END
$$;
--> statement-breakpoint
-- The projects the transaction's user sees (app.user_id), or NULL for all of them: when no user
-- is named (the jobs that act for a company) and for a company admin. A company member sees the
-- public ones, anyone those they are a member of. As tasks_system (SECURITY DEFINER), so the policies that call it do
-- not call themselves. Policies call it as an uncorrelated subquery, evaluated once per statement.
CREATE FUNCTION app_visible_projects() RETURNS integer[] LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
  WITH me AS (
    SELECT u.company_id, u.id, u.role FROM users u
    WHERE u.company_id = NULLIF(current_setting('app.company_id', true), '')::int
      AND u.id = NULLIF(current_setting('app.user_id', true), '')::int
  )
  SELECT CASE
    WHEN NULLIF(current_setting('app.user_id', true), '') IS NULL THEN NULL
    WHEN (SELECT role FROM me) = 'admin' THEN NULL
    ELSE coalesce((
      SELECT array_agg(p.id) FROM projects p, me
      WHERE p.company_id = me.company_id
        AND ((me.role = 'member' AND NOT p.is_private)
             OR EXISTS (SELECT 1 FROM project_members m
                        WHERE m.company_id = p.company_id AND m.project_id = p.id AND m.user_id = me.id))
    ), '{}')
  END
$$;
--> statement-breakpoint
ALTER FUNCTION app_visible_projects() OWNER TO tasks_system;
--> statement-breakpoint
-- Each table of a project's rows: the company's rows of the projects the user sees. Writes are
-- checked against the company only: who may write where is the code's rule (src/projects/access.ts),
-- and a project being made is not yet seen by its maker, who becomes its member in a later statement.
CREATE FUNCTION enable_project_visibility(tbl regclass, project_column name DEFAULT 'project_id')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP POLICY tenant_isolation ON %s', tbl);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %1$s TO tasks_app'
    ' USING (company_id = NULLIF(current_setting(''app.company_id'', true), '''')::int'
    '        AND (%2$I = ANY ((SELECT app_visible_projects())::int[]) OR (SELECT app_visible_projects()) IS NULL))'
    ' WITH CHECK (company_id = NULLIF(current_setting(''app.company_id'', true), '''')::int)',
    tbl, project_column);
END
$$;
--> statement-breakpoint
SELECT enable_project_visibility('projects', 'id');
--> statement-breakpoint
SELECT enable_project_visibility('project_members');
--> statement-breakpoint
SELECT enable_project_visibility('statuses');
--> statement-breakpoint
SELECT enable_project_visibility('tasks');
--> statement-breakpoint
SELECT enable_project_visibility('task_stats');
--> statement-breakpoint
SELECT enable_project_visibility('task_assignee_counts');
--> statement-breakpoint
SELECT enable_project_visibility('task_days');
