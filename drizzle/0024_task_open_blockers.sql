CREATE TABLE "task_open_blockers" (
	"company_id" integer NOT NULL,
	"task_id" integer NOT NULL,
	"open_blockers" integer NOT NULL,
	CONSTRAINT "task_open_blockers_company_id_task_id_pk" PRIMARY KEY("company_id","task_id")
);
--> statement-breakpoint
ALTER TABLE "task_open_blockers" ADD CONSTRAINT "task_open_blockers_company_id_task_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","task_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- The count is no secret from anyone in the company: is_blocked shows it on every task they see.
SELECT enable_tenant_isolation('task_open_blockers');
--> statement-breakpoint
INSERT INTO task_open_blockers (company_id, task_id, open_blockers)
SELECT company_id, id, open_blockers FROM tasks t
WHERE EXISTS (SELECT 1 FROM task_dependencies d WHERE d.company_id = t.company_id AND d.task_id = t.id);
--> statement-breakpoint
-- Each counter change was a new version of a wide task row in every index of tasks (not HOT:
-- tasks_blocked_idx named the column), 5,000 of them for a hub task done. Its filter (is_blocked)
-- reads the narrow table now.
DROP INDEX "tasks_blocked_idx";--> statement-breakpoint
ALTER TABLE "tasks" DROP COLUMN "open_blockers";
--> statement-breakpoint
-- As in 0018, on task_open_blockers: a dependency added or removed, its waiting task gains or
-- loses an open blocker.
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
  ELSE
    UPDATE task_open_blockers w SET open_blockers = w.open_blockers - 1
    WHERE w.company_id = d.company_id AND w.task_id = d.task_id
      AND EXISTS (SELECT 1 FROM tasks b WHERE b.company_id = d.company_id AND b.id = d.blocker_id AND b.status <> 'done');
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- As in 0018. A blocker reopened first locks its waiting tasks' rows (FOR KEY SHARE: the waiting
-- tasks' own writes hold FOR UPDATE): a waiting task being started or done at the same moment
-- either commits first, or waits for this and then reads the count that blocks it (the rule is
-- checked under the task's row lock, service.ts' refuseIfBlocked). A blocker done takes no lock.
CREATE OR REPLACE FUNCTION tasks_links_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  was_done boolean := TG_OP = 'UPDATE' AND OLD.status = 'done';
  is_done boolean := NEW.status = 'done';
  old_parent integer := CASE WHEN TG_OP = 'UPDATE' THEN OLD.parent_id END;
BEGIN
  IF TG_OP = 'UPDATE' AND was_done AND NOT is_done THEN
    PERFORM FROM tasks w JOIN task_dependencies d ON w.company_id = d.company_id AND w.id = d.task_id
    WHERE d.company_id = NEW.company_id AND d.blocker_id = NEW.id
    FOR KEY SHARE OF w;
    UPDATE task_open_blockers w SET open_blockers = w.open_blockers + 1
    FROM task_dependencies d
    WHERE d.company_id = NEW.company_id AND d.blocker_id = NEW.id AND w.company_id = d.company_id AND w.task_id = d.task_id;
  ELSIF TG_OP = 'UPDATE' AND NOT was_done AND is_done THEN
    UPDATE task_open_blockers w SET open_blockers = w.open_blockers - 1
    FROM task_dependencies d
    WHERE d.company_id = NEW.company_id AND d.blocker_id = NEW.id AND w.company_id = d.company_id AND w.task_id = d.task_id;
  END IF;
  IF old_parent IS NOT DISTINCT FROM NEW.parent_id THEN
    IF NEW.parent_id IS NOT NULL AND was_done IS DISTINCT FROM is_done THEN
      UPDATE tasks p SET subtasks_done = p.subtasks_done + CASE WHEN is_done THEN 1 ELSE -1 END
      WHERE p.company_id = NEW.company_id AND p.id = NEW.parent_id;
    END IF;
    RETURN NULL;
  END IF;
  IF old_parent IS NOT NULL THEN
    UPDATE tasks p SET subtasks_total = p.subtasks_total - 1, subtasks_done = p.subtasks_done - was_done::int
    WHERE p.company_id = NEW.company_id AND p.id = old_parent;
  END IF;
  IF NEW.parent_id IS NOT NULL THEN
    UPDATE tasks p SET subtasks_total = p.subtasks_total + 1, subtasks_done = p.subtasks_done + is_done::int
    WHERE p.company_id = NEW.company_id AND p.id = NEW.parent_id;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_links_deleted() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  IF OLD.status <> 'done' THEN
    UPDATE task_open_blockers w SET open_blockers = w.open_blockers - 1
    FROM task_dependencies d
    WHERE d.company_id = OLD.company_id AND d.blocker_id = OLD.id AND w.company_id = d.company_id AND w.task_id = d.task_id;
  END IF;
  UPDATE tasks c SET parent_id = NULL WHERE c.company_id = OLD.company_id AND c.parent_id = OLD.id;
  IF OLD.parent_id IS NOT NULL THEN
    UPDATE tasks p SET subtasks_total = p.subtasks_total - 1, subtasks_done = p.subtasks_done - (OLD.status = 'done')::int
    WHERE p.company_id = OLD.company_id AND p.id = OLD.parent_id;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- The tasks waiting for any of `blockers`, each with how many of them it waits for, over every task
-- of the company: ids only. Read through task_dependencies' policy, each row would look up both
-- of its tasks (a hash of all the company's tasks, twice), for a hub's 5,000 waiting tasks.
-- Past row-level security, but never past the company: only the transaction's own (app.company_id).
CREATE FUNCTION task_waiters(company integer, blockers integer[])
RETURNS TABLE (task_id integer, n integer) LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
  SELECT d.task_id, count(*)::int FROM task_dependencies d
  WHERE d.company_id = company AND company = NULLIF(current_setting('app.company_id', true), '')::int
    AND d.blocker_id = ANY(blockers)
  GROUP BY d.task_id
$$;
--> statement-breakpoint
ALTER FUNCTION task_waiters(integer, integer[]) OWNER TO tasks_system;
