-- task_counts kept per company and status what task_stats keeps per company (todo, in_progress,
-- done): the list now counts from task_stats, and the counters' trigger function loses its
-- task_counts part. This is its current definition; the one in 0013 less that part, and the rest
-- unchanged. tasks_statistics_idx served statistics read from tasks; they read the counter tables
-- since 0012, and every write paid for the index.
CREATE OR REPLACE FUNCTION task_counters_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deltas task_statistics_delta[];
  assignees boolean;
  days boolean;
  my_shard CONSTANT smallint := pg_backend_pid() % 16;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(ROW(company_id, 1, status, priority, assigned_to, due_date, created_at, completed_at)::task_statistics_delta),
           bool_or(assigned_to IS NOT NULL), true
    INTO deltas, assignees, days
    FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(ROW(company_id, -1, status, priority, assigned_to, due_date, created_at, completed_at)::task_statistics_delta),
           bool_or(assigned_to IS NOT NULL), true
    INTO deltas, assignees, days
    FROM old_rows;
  ELSE
    SELECT array_agg(v.d),
           bool_or(o.assigned_to IS DISTINCT FROM n.assigned_to
                   OR (o.assigned_to IS NOT NULL AND (o.status = 'done') IS DISTINCT FROM (n.status = 'done'))),
           bool_or(o.created_at IS DISTINCT FROM n.created_at OR o.due_date IS DISTINCT FROM n.due_date
                   OR (o.status = 'done') IS DISTINCT FROM (n.status = 'done'))
    INTO deltas, assignees, days
    FROM old_rows o
    FULL JOIN new_rows n ON n.company_id = o.company_id AND n.id = o.id
    CROSS JOIN LATERAL (VALUES
      (ROW(o.company_id, -1, o.status, o.priority, o.assigned_to, o.due_date, o.created_at, o.completed_at)::task_statistics_delta),
      (ROW(n.company_id, 1, n.status, n.priority, n.assigned_to, n.due_date, n.created_at, n.completed_at)::task_statistics_delta)
    ) AS v(d)
    WHERE (o.status, o.priority, o.assigned_to, o.due_date, o.created_at, o.completed_at)
          IS DISTINCT FROM (n.status, n.priority, n.assigned_to, n.due_date, n.created_at, n.completed_at)
      AND (v.d).company_id IS NOT NULL;
  END IF;
  IF deltas IS NULL THEN
    RETURN NULL;
  END IF;

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

  IF assignees THEN
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
  END IF;

  IF days THEN
    INSERT INTO task_days AS d (company_id, day, shard, created, open_due)
    SELECT t.company_id, v.day, my_shard, sum(v.created), sum(v.open_due)
    FROM unnest(deltas) AS t
    CROSS JOIN LATERAL (VALUES
      ((t.created_at AT TIME ZONE 'UTC')::date, t.delta, 0),
      (CASE WHEN t.status <> 'done' THEN (t.due_date AT TIME ZONE 'UTC')::date END, 0, t.delta)
    ) AS v(day, created, open_due)
    WHERE v.day IS NOT NULL
    GROUP BY t.company_id, v.day
    HAVING sum(v.created) <> 0 OR sum(v.open_due) <> 0
    ORDER BY t.company_id, v.day
    ON CONFLICT (company_id, day, shard) DO UPDATE SET
      created = d.created + excluded.created,
      open_due = d.open_due + excluded.open_due;
  END IF;

  RETURN NULL;
END
$$;
--> statement-breakpoint
ALTER TABLE "task_counts" DISABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP TABLE "task_counts" CASCADE;--> statement-breakpoint
DROP INDEX "tasks_statistics_idx";
