CREATE TABLE "task_dependencies" (
	"company_id" integer NOT NULL,
	"task_id" integer NOT NULL,
	"blocker_id" integer NOT NULL,
	CONSTRAINT "task_dependencies_company_id_task_id_blocker_id_pk" PRIMARY KEY("company_id","task_id","blocker_id"),
	CONSTRAINT "task_dependencies_not_self" CHECK ("task_dependencies"."task_id" <> "task_dependencies"."blocker_id")
);
--> statement-breakpoint
ALTER TABLE "notifications" DROP CONSTRAINT "notifications_kind_check";--> statement-breakpoint
DROP INDEX "notifications_pending_change_key";--> statement-breakpoint
ALTER TABLE "notification_preferences" ADD COLUMN "email_on_unblocked" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "parent_id" integer;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "open_blockers" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "subtasks_total" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "subtasks_done" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "task_dependencies" ADD CONSTRAINT "task_dependencies_company_id_task_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","task_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_dependencies" ADD CONSTRAINT "task_dependencies_company_id_blocker_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","blocker_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "task_dependencies_blocker_idx" ON "task_dependencies" USING btree ("company_id","blocker_id","task_id");--> statement-breakpoint
CREATE INDEX "tasks_parent_idx" ON "tasks" USING btree ("company_id","parent_id") WHERE "tasks"."parent_id" is not null;--> statement-breakpoint
CREATE INDEX "tasks_blocked_idx" ON "tasks" USING btree ("company_id","created_at","id") WHERE "tasks"."open_blockers" > 0;--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_pending_change_key" ON "notifications" USING btree ("company_id","task_id","recipient_id") WHERE "notifications"."status" = 'pending' and "notifications"."handed_over_at" is null and "notifications"."kind" in ('assigned', 'status_changed', 'unblocked');--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_kind_check" CHECK ("notifications"."kind" in ('assigned', 'status_changed', 'unblocked', 'due_soon', 'digest'));--> statement-breakpoint
SELECT enable_tenant_isolation('task_dependencies');
--> statement-breakpoint
-- A dependency follows its two tasks: the rows whose waiting task and blocker the user both sees
-- (the tasks' own policy, drizzle/0016, applies inside these subqueries), so nobody learns of a
-- task they do not see through a link to it. A write that replaces a task's blocked_by then
-- removes only links the writer sees.
DROP POLICY tenant_isolation ON task_dependencies;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON task_dependencies TO tasks_app
  USING (company_id = NULLIF(current_setting('app.company_id', true), '')::int
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.company_id = task_dependencies.company_id AND t.id = task_dependencies.task_id)
         AND EXISTS (SELECT 1 FROM tasks b WHERE b.company_id = task_dependencies.company_id AND b.id = task_dependencies.blocker_id))
  WITH CHECK (company_id = NULLIF(current_setting('app.company_id', true), '')::int);
--> statement-breakpoint
ALTER TABLE tasks ADD CONSTRAINT tasks_not_own_parent CHECK (parent_id <> id);
--> statement-breakpoint
-- The kept counters (tasks.open_blockers, subtasks_total, subtasks_done), in the writing
-- transaction. SECURITY DEFINER as tasks_system: a write changes the counters of tasks the writer
-- may not see (a waiting task in a private project), and is_blocked counts every blocker.
-- A dependency added or removed: its waiting task gains or loses an open blocker. A blocker that is
-- gone (deleted, and this row removed by the cascade) was counted off by tasks_links_deleted().
CREATE FUNCTION task_dependencies_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  d record := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
BEGIN
  UPDATE tasks w SET open_blockers = w.open_blockers + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END
  WHERE w.company_id = d.company_id AND w.id = d.task_id
    AND EXISTS (SELECT 1 FROM tasks b WHERE b.company_id = d.company_id AND b.id = d.blocker_id AND b.status <> 'done');
  RETURN NULL;
END
$$;
--> statement-breakpoint
ALTER FUNCTION task_dependencies_changed() OWNER TO tasks_system;
--> statement-breakpoint
CREATE TRIGGER task_dependencies_counted AFTER INSERT OR DELETE ON task_dependencies
  FOR EACH ROW EXECUTE FUNCTION task_dependencies_changed();
--> statement-breakpoint
-- A task done or reopened: the tasks waiting for it lose or gain an open blocker; its parent's
-- done count follows. A task moved to another parent (or created under one) moves in the counts.
CREATE FUNCTION tasks_links_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  was_done boolean := TG_OP = 'UPDATE' AND OLD.status = 'done';
  is_done boolean := NEW.status = 'done';
  old_parent integer := CASE WHEN TG_OP = 'UPDATE' THEN OLD.parent_id END;
BEGIN
  IF TG_OP = 'UPDATE' AND was_done IS DISTINCT FROM is_done THEN
    UPDATE tasks w SET open_blockers = w.open_blockers + CASE WHEN is_done THEN -1 ELSE 1 END
    FROM task_dependencies d
    WHERE d.company_id = NEW.company_id AND d.blocker_id = NEW.id AND w.company_id = d.company_id AND w.id = d.task_id;
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
ALTER FUNCTION tasks_links_changed() OWNER TO tasks_system;
--> statement-breakpoint
CREATE TRIGGER tasks_links_inserted AFTER INSERT ON tasks
  FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL) EXECUTE FUNCTION tasks_links_changed();
--> statement-breakpoint
CREATE TRIGGER tasks_links_updated AFTER UPDATE OF status, parent_id ON tasks
  FOR EACH ROW WHEN ((OLD.status = 'done') IS DISTINCT FROM (NEW.status = 'done') OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
  EXECUTE FUNCTION tasks_links_changed();
--> statement-breakpoint
-- A task deleted: the tasks it blocked lose an open blocker (if it was open), its subtasks become
-- top-level, its parent counts one less. An AFTER trigger, so that rows deleted by the same
-- statement are not touched again; named with a capital A so that it fires before the foreign
-- keys' cascades (triggers of one event fire in name order, and theirs are "RI_ConstraintTrigger_…"),
-- while the dependency rows it reads are still there.
CREATE FUNCTION tasks_links_deleted() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  IF OLD.status <> 'done' THEN
    UPDATE tasks w SET open_blockers = w.open_blockers - 1
    FROM task_dependencies d
    WHERE d.company_id = OLD.company_id AND d.blocker_id = OLD.id AND w.company_id = d.company_id AND w.id = d.task_id;
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
ALTER FUNCTION tasks_links_deleted() OWNER TO tasks_system;
--> statement-breakpoint
CREATE TRIGGER "A_tasks_links_deleted" AFTER DELETE ON tasks
  FOR EACH ROW EXECUTE FUNCTION tasks_links_deleted();
--> statement-breakpoint
-- The writing transaction's checks, over every task of the company (seen by the writer or not):
-- whether one of `blockers` waits, directly or not, for `task` (adding them would close a cycle),
-- and the edges walked, for naming the cycle.
CREATE FUNCTION task_dependency_reach(company integer, blockers integer[])
RETURNS TABLE (task_id integer, blocker_id integer) LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
  WITH RECURSIVE walk(task_id, blocker_id) AS (
    SELECT d.task_id, d.blocker_id FROM task_dependencies d
    WHERE d.company_id = company AND d.task_id = ANY(blockers)
    UNION
    SELECT d.task_id, d.blocker_id FROM walk w
    JOIN task_dependencies d ON d.company_id = company AND d.task_id = w.blocker_id
  )
  SELECT task_id, blocker_id FROM walk
$$;
--> statement-breakpoint
ALTER FUNCTION task_dependency_reach(integer, integer[]) OWNER TO tasks_system;
--> statement-breakpoint
CREATE FUNCTION task_dependency_closes_cycle(company integer, task integer, blockers integer[])
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
  WITH RECURSIVE up(id) AS (
    SELECT unnest(blockers)
    UNION
    SELECT d.blocker_id FROM up JOIN task_dependencies d ON d.company_id = company AND d.task_id = up.id
  )
  SELECT EXISTS (SELECT 1 FROM up WHERE id = task)
$$;
--> statement-breakpoint
ALTER FUNCTION task_dependency_closes_cycle(integer, integer, integer[]) OWNER TO tasks_system;
--> statement-breakpoint
-- A parent's ancestors (nearest first) and the height of a task's subtree, for the parent rules.
CREATE FUNCTION task_ancestors(company integer, task integer) RETURNS integer[] LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
  WITH RECURSIVE up(id, parent_id, depth) AS (
    SELECT t.id, t.parent_id, 1 FROM tasks t WHERE t.company_id = company AND t.id = task
    UNION ALL
    SELECT t.id, t.parent_id, up.depth + 1 FROM up JOIN tasks t ON t.company_id = company AND t.id = up.parent_id
    WHERE up.depth < 10
  )
  SELECT coalesce(array_agg(id ORDER BY depth), '{}') FROM up
$$;
--> statement-breakpoint
ALTER FUNCTION task_ancestors(integer, integer) OWNER TO tasks_system;
--> statement-breakpoint
CREATE FUNCTION task_subtree_height(company integer, task integer) RETURNS integer LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
  WITH RECURSIVE down(id, depth) AS (
    SELECT task, 1
    UNION ALL
    SELECT t.id, down.depth + 1 FROM down JOIN tasks t ON t.company_id = company AND t.parent_id = down.id
    WHERE down.depth < 10
  )
  SELECT max(depth) FROM down
$$;
--> statement-breakpoint
ALTER FUNCTION task_subtree_height(integer, integer) OWNER TO tasks_system;
