CREATE TABLE "task_state_counts" (
	"company_id" integer NOT NULL,
	"project_id" integer NOT NULL,
	"state_id" integer NOT NULL,
	"shard" smallint NOT NULL,
	"total" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "task_state_counts_company_id_project_id_state_id_shard_pk" PRIMARY KEY("company_id","project_id","state_id","shard")
);
--> statement-breakpoint
SELECT enable_tenant_isolation('task_state_counts');
--> statement-breakpoint
-- The projects a transaction's user does NOT see (app.user_id), among the company's: none when no
-- user is named (the jobs that act for a company) and for a company admin; for a company member the
-- private projects they are not a member of; for a guest every project they are not a member of.
-- The policies filter with "project_id <> ALL(hidden)": the planner estimates it as letting nearly
-- every row through, which it does for nearly everyone, so the plans stay those of the company
-- filter alone (with "= ANY(visible)", as in 0015, it expected a handful of rows and sorted whole
-- projects: the task list went from 3,693 to 21 requests a second).
-- Computed once per transaction: the answer is kept in app.hidden_projects under the company and
-- user it is for, and forgotten by any write to the tables it is read from (triggers below).
-- As tasks_system (SECURITY DEFINER), which sees every row, so the policies that call it do not
-- call themselves.
CREATE FUNCTION app_hidden_projects() RETURNS integer[] LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  company text := current_setting('app.company_id', true);
  me text := current_setting('app.user_id', true);
  kept text := current_setting('app.hidden_projects', true);
  key text;
  my_role text;
  hidden integer[];
BEGIN
  IF coalesce(me, '') = '' OR coalesce(company, '') = '' THEN
    RETURN '{}';
  END IF;
  key := company || '/' || me || '=';
  IF starts_with(kept, key) THEN
    RETURN substr(kept, length(key) + 1)::integer[];
  END IF;
  SELECT role INTO my_role FROM users WHERE company_id = company::int AND id = me::int;
  IF my_role = 'admin' THEN
    hidden := '{}';
  ELSE
    -- A user who is not of the company (my_role null) sees none of its projects.
    SELECT coalesce(array_agg(p.id ORDER BY p.id), '{}') INTO hidden FROM projects p
    WHERE p.company_id = company::int
      AND NOT coalesce((my_role = 'member' AND NOT p.is_private)
                       OR EXISTS (SELECT 1 FROM project_members m
                                  WHERE m.company_id = p.company_id AND m.project_id = p.id AND m.user_id = me::int),
                       false);
  END IF;
  PERFORM set_config('app.hidden_projects', key || hidden::text, true);
  RETURN hidden;
END
$$;
--> statement-breakpoint
ALTER FUNCTION app_hidden_projects() OWNER TO tasks_system;
--> statement-breakpoint
CREATE FUNCTION app_forget_hidden_projects() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('app.hidden_projects', '', true);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER projects_forget_hidden AFTER INSERT OR UPDATE OR DELETE ON projects
  FOR EACH STATEMENT EXECUTE FUNCTION app_forget_hidden_projects();
--> statement-breakpoint
CREATE TRIGGER project_members_forget_hidden AFTER INSERT OR UPDATE OR DELETE ON project_members
  FOR EACH STATEMENT EXECUTE FUNCTION app_forget_hidden_projects();
--> statement-breakpoint
CREATE TRIGGER users_forget_hidden AFTER UPDATE OR DELETE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION app_forget_hidden_projects();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION enable_project_visibility(tbl regclass, project_column name DEFAULT 'project_id')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %1$s TO tasks_app'
    ' USING (company_id = NULLIF(current_setting(''app.company_id'', true), '''')::int'
    '        AND %2$I <> ALL ((SELECT app_hidden_projects())::integer[]))'
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
--> statement-breakpoint
SELECT enable_project_visibility('task_state_counts');
--> statement-breakpoint
DROP FUNCTION app_visible_projects();
--> statement-breakpoint
-- A task's labels follow their task: the rows of the tasks the user sees.
DROP POLICY tenant_isolation ON task_labels;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON task_labels TO tasks_app
  USING (company_id = NULLIF(current_setting('app.company_id', true), '')::int
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.company_id = task_labels.company_id AND t.id = task_labels.task_id))
  WITH CHECK (company_id = NULLIF(current_setting('app.company_id', true), '')::int);
--> statement-breakpoint
ALTER TYPE task_statistics_delta ADD ATTRIBUTE state_id integer;
--> statement-breakpoint
-- The counters' trigger function (0015), keeping task_state_counts too.
CREATE OR REPLACE FUNCTION task_counters_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deltas task_statistics_delta[];
  assignees boolean;
  days boolean;
  states boolean;
  my_shard CONSTANT smallint := pg_backend_pid() % 16;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(ROW(company_id, 1, status, priority, assigned_to, due_date, created_at, completed_at, project_id, state_id)::task_statistics_delta),
           bool_or(assigned_to IS NOT NULL), true, true
    INTO deltas, assignees, days, states
    FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(ROW(company_id, -1, status, priority, assigned_to, due_date, created_at, completed_at, project_id, state_id)::task_statistics_delta),
           bool_or(assigned_to IS NOT NULL), true, true
    INTO deltas, assignees, days, states
    FROM old_rows;
  ELSE
    SELECT array_agg(v.d),
           bool_or(o.assigned_to IS DISTINCT FROM n.assigned_to OR o.project_id IS DISTINCT FROM n.project_id
                   OR (o.assigned_to IS NOT NULL AND (o.status = 'done') IS DISTINCT FROM (n.status = 'done'))),
           bool_or(o.created_at IS DISTINCT FROM n.created_at OR o.due_date IS DISTINCT FROM n.due_date
                   OR o.project_id IS DISTINCT FROM n.project_id
                   OR (o.status = 'done') IS DISTINCT FROM (n.status = 'done')),
           bool_or(o.project_id IS DISTINCT FROM n.project_id OR o.state_id IS DISTINCT FROM n.state_id)
    INTO deltas, assignees, days, states
    FROM old_rows o
    FULL JOIN new_rows n ON n.company_id = o.company_id AND n.id = o.id
    CROSS JOIN LATERAL (VALUES
      (ROW(o.company_id, -1, o.status, o.priority, o.assigned_to, o.due_date, o.created_at, o.completed_at, o.project_id, o.state_id)::task_statistics_delta),
      (ROW(n.company_id, 1, n.status, n.priority, n.assigned_to, n.due_date, n.created_at, n.completed_at, n.project_id, n.state_id)::task_statistics_delta)
    ) AS v(d)
    WHERE (o.status, o.priority, o.assigned_to, o.due_date, o.created_at, o.completed_at, o.project_id, o.state_id)
          IS DISTINCT FROM (n.status, n.priority, n.assigned_to, n.due_date, n.created_at, n.completed_at, n.project_id, n.state_id)
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

  IF states THEN
    INSERT INTO task_state_counts AS c (company_id, project_id, state_id, shard, total)
    SELECT company_id, project_id, state_id, my_shard, sum(delta)
    FROM unnest(deltas)
    GROUP BY company_id, project_id, state_id
    HAVING sum(delta) <> 0
    ORDER BY company_id, project_id, state_id
    ON CONFLICT (company_id, project_id, state_id, shard) DO UPDATE SET total = c.total + excluded.total;
  END IF;

  RETURN NULL;
END
$$;
--> statement-breakpoint
INSERT INTO task_state_counts (company_id, project_id, state_id, shard, total)
SELECT company_id, project_id, state_id, 0, count(*) FROM tasks GROUP BY company_id, project_id, state_id;
--> statement-breakpoint
-- A number given on insert is kept (a bulk insert numbers its rows itself and moves the project's
-- counter once: one update of that row per task in one transaction costs O(n²)); otherwise the
-- project's next number, as in 0015.
CREATE OR REPLACE FUNCTION tasks_fill_project() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF (TG_OP = 'INSERT' AND NEW.number IS NULL) OR (TG_OP = 'UPDATE' AND NEW.number IS NOT DISTINCT FROM OLD.number) THEN
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
