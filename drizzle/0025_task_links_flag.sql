-- Every task with a dependency, waiting or blocking, has a row in task_open_blockers (0024 gave one
-- to waiting tasks only): a task without one has no links, and a list reads its links only when it
-- has one (tasks/mapping.ts), one lookup a row instead of three. Rows stay when links go, as before.
INSERT INTO task_open_blockers (company_id, task_id, open_blockers)
SELECT DISTINCT company_id, blocker_id, 0 FROM task_dependencies
ON CONFLICT (company_id, task_id) DO NOTHING;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION task_dependencies_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  d record := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO task_open_blockers AS w (company_id, task_id, open_blockers)
    SELECT d.company_id, d.task_id,
           (EXISTS (SELECT 1 FROM tasks b WHERE b.company_id = d.company_id AND b.id = d.blocker_id AND b.status <> 'done'))::int
    ON CONFLICT (company_id, task_id) DO UPDATE SET open_blockers = w.open_blockers + excluded.open_blockers;
    INSERT INTO task_open_blockers (company_id, task_id, open_blockers) VALUES (d.company_id, d.blocker_id, 0)
    ON CONFLICT (company_id, task_id) DO NOTHING;
  ELSE
    UPDATE task_open_blockers w SET open_blockers = w.open_blockers - 1
    WHERE w.company_id = d.company_id AND w.task_id = d.task_id
      AND EXISTS (SELECT 1 FROM tasks b WHERE b.company_id = d.company_id AND b.id = d.blocker_id AND b.status <> 'done');
  END IF;
  RETURN NULL;
END
$$;
