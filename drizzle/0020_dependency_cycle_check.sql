-- The cycle check of 0018 walked everything the new blockers wait for, 1,000 steps below a chain
-- 1,000 long, even when nothing waits for the task (a new or leaf task, the common case) or the new
-- blockers wait for nothing: then no path can come back to the task. And as a SQL function it
-- was planned again at every call; in plpgsql the walk's plan is kept by the session.
CREATE OR REPLACE FUNCTION task_dependency_closes_cycle(company integer, task integer, blockers integer[])
RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  IF task = ANY(blockers) THEN
    RETURN true;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM task_dependencies d WHERE d.company_id = company AND d.blocker_id = task)
     OR NOT EXISTS (SELECT 1 FROM task_dependencies d WHERE d.company_id = company AND d.task_id = ANY(blockers)) THEN
    RETURN false;
  END IF;
  RETURN EXISTS (
    WITH RECURSIVE up(id) AS (
      SELECT unnest(blockers)
      UNION
      SELECT d.blocker_id FROM up JOIN task_dependencies d ON d.company_id = company AND d.task_id = up.id
    )
    SELECT 1 FROM up WHERE id = task
  );
END
$$;
