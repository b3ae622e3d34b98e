-- Every counter kept on tasks now follows it from one statement-level trigger function, in the
-- writing transaction: task_counts (0007, the list's counts) and the statistics' aggregates,
-- task_stats (scalars), task_assignee_counts (by_assignee) and task_days (created_per_day, and open
-- tasks per due date for overdue). The changed rows become deltas (+1 for a new version, -1 for an
-- old one), summed per company (and status, assignee or day) and added to this connection's shard
-- row. A shard is the backend pid modulo 16, so the connections of a pool, each with its own row,
-- do not queue on each other (0007 picked one of 8 at random, so concurrent writers often met);
-- only the sum over shards means anything. Groups whose deltas cancel out (a change of title, or
-- of priority for the per-assignee rows) write nothing. Rows are taken in key order, table after
-- table, so concurrent writers cannot deadlock. No foreign keys, as for task_counts: deleting a
-- company or a user deletes tasks, whose trigger must not trip over the row going away.
SELECT enable_tenant_isolation('task_stats');
--> statement-breakpoint
SELECT enable_tenant_isolation('task_assignee_counts');
--> statement-breakpoint
SELECT enable_tenant_isolation('task_days');
--> statement-breakpoint
CREATE TYPE task_statistics_delta AS (
  company_id integer,
  delta integer,
  status text,
  priority text,
  assigned_to integer,
  due_date timestamptz,
  created_at timestamptz,
  completed_at timestamptz
);
--> statement-breakpoint
CREATE FUNCTION task_counters_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deltas task_statistics_delta[];
  my_shard CONSTANT smallint := pg_backend_pid() % 16;
BEGIN
  IF TG_OP = 'INSERT' THEN
    deltas := ARRAY(
      SELECT ROW(company_id, 1, status, priority, assigned_to, due_date, created_at, completed_at)::task_statistics_delta
      FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    deltas := ARRAY(
      SELECT ROW(company_id, -1, status, priority, assigned_to, due_date, created_at, completed_at)::task_statistics_delta
      FROM old_rows);
  ELSE
    deltas := ARRAY(
      SELECT ROW(company_id, -1, status, priority, assigned_to, due_date, created_at, completed_at)::task_statistics_delta
      FROM old_rows
      UNION ALL
      SELECT ROW(company_id, 1, status, priority, assigned_to, due_date, created_at, completed_at)::task_statistics_delta
      FROM new_rows);
  END IF;

  INSERT INTO task_counts AS c (company_id, status, shard, n)
  SELECT company_id, status, my_shard, sum(delta)
  FROM unnest(deltas)
  GROUP BY company_id, status
  HAVING sum(delta) <> 0
  ORDER BY company_id, status
  ON CONFLICT (company_id, status, shard) DO UPDATE SET n = c.n + excluded.n;

  INSERT INTO task_stats AS s (company_id, shard, todo, in_progress, done, low, medium, high, urgent, unassigned,
                               completed, completion_seconds)
  SELECT company_id, my_shard, todo, in_progress, done, low, medium, high, urgent, unassigned, completed, seconds
  FROM (
    SELECT company_id,
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
    GROUP BY company_id
  ) changes
  WHERE (todo, in_progress, done, low, medium, high, urgent, unassigned, completed, seconds)
        IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0::numeric)
  ORDER BY company_id
  ON CONFLICT (company_id, shard) DO UPDATE SET
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

  INSERT INTO task_assignee_counts AS a (company_id, assigned_to, shard, total, done)
  SELECT company_id, assigned_to, my_shard, sum(delta), sum(CASE WHEN status = 'done' THEN delta ELSE 0 END)
  FROM unnest(deltas)
  WHERE assigned_to IS NOT NULL
  GROUP BY company_id, assigned_to
  HAVING sum(delta) <> 0 OR sum(CASE WHEN status = 'done' THEN delta ELSE 0 END) <> 0
  ORDER BY company_id, assigned_to
  ON CONFLICT (company_id, assigned_to, shard) DO UPDATE SET
    total = a.total + excluded.total,
    done = a.done + excluded.done;

  INSERT INTO task_days AS d (company_id, day, shard, created, open_due)
  SELECT company_id, day, my_shard, sum(created), sum(open_due)
  FROM (
    SELECT company_id, (created_at AT TIME ZONE 'UTC')::date AS day, delta AS created, 0 AS open_due
    FROM unnest(deltas)
    UNION ALL
    SELECT company_id, (due_date AT TIME ZONE 'UTC')::date, 0, delta
    FROM unnest(deltas)
    WHERE status <> 'done' AND due_date IS NOT NULL
  ) days
  GROUP BY company_id, day
  HAVING sum(created) <> 0 OR sum(open_due) <> 0
  ORDER BY company_id, day
  ON CONFLICT (company_id, day, shard) DO UPDATE SET
    created = d.created + excluded.created,
    open_due = d.open_due + excluded.open_due;

  RETURN NULL;
END
$$;
--> statement-breakpoint
-- Replacing the triggers locks tasks against writes until this migration commits, so task_counts
-- carries on exactly, and the backfill below counts exactly the tasks that exist when the new
-- triggers take over.
DROP TRIGGER task_counts_inserted ON tasks;
--> statement-breakpoint
DROP TRIGGER task_counts_deleted ON tasks;
--> statement-breakpoint
DROP TRIGGER task_counts_updated ON tasks;
--> statement-breakpoint
DROP FUNCTION task_counts_inserted();
--> statement-breakpoint
DROP FUNCTION task_counts_deleted();
--> statement-breakpoint
DROP FUNCTION task_counts_updated();
--> statement-breakpoint
CREATE TRIGGER task_counters_inserted AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counters_changed();
--> statement-breakpoint
CREATE TRIGGER task_counters_deleted AFTER DELETE ON tasks
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counters_changed();
--> statement-breakpoint
CREATE TRIGGER task_counters_updated AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counters_changed();
--> statement-breakpoint
INSERT INTO task_stats (company_id, shard, todo, in_progress, done, low, medium, high, urgent, unassigned, completed,
                        completion_seconds)
SELECT company_id, 0,
       count(*) FILTER (WHERE status = 'todo'),
       count(*) FILTER (WHERE status = 'in_progress'),
       count(*) FILTER (WHERE status = 'done'),
       count(*) FILTER (WHERE priority = 'low'),
       count(*) FILTER (WHERE priority = 'medium'),
       count(*) FILTER (WHERE priority = 'high'),
       count(*) FILTER (WHERE priority = 'urgent'),
       count(*) FILTER (WHERE assigned_to IS NULL),
       count(completed_at) FILTER (WHERE status = 'done'),
       coalesce(sum(extract(epoch FROM completed_at - created_at)) FILTER (WHERE status = 'done'), 0)
FROM tasks
GROUP BY company_id;
--> statement-breakpoint
INSERT INTO task_assignee_counts (company_id, assigned_to, shard, total, done)
SELECT company_id, assigned_to, 0, count(*), count(*) FILTER (WHERE status = 'done')
FROM tasks
WHERE assigned_to IS NOT NULL
GROUP BY company_id, assigned_to;
--> statement-breakpoint
INSERT INTO task_days (company_id, day, shard, created, open_due)
SELECT company_id, day, 0, sum(created), sum(open_due)
FROM (
  SELECT company_id, (created_at AT TIME ZONE 'UTC')::date AS day, 1 AS created, 0 AS open_due FROM tasks
  UNION ALL
  SELECT company_id, (due_date AT TIME ZONE 'UTC')::date, 0, 1 FROM tasks WHERE status <> 'done' AND due_date IS NOT NULL
) days
GROUP BY company_id, day;
