-- Each history entry names the project its task was in when it was written, so what is read of the
-- history without the task (GET /api/tasks/deleted/: the task is gone) follows who sees that
-- project. Entries written before version 2 are of the default project, which then held every task.
ALTER TABLE "task_history" ADD COLUMN "project_id" integer;
--> statement-breakpoint
UPDATE task_history h SET project_id = coalesce(
  (SELECT t.project_id FROM tasks t WHERE t.company_id = h.company_id AND t.id = h.task_id),
  (SELECT p.id FROM projects p WHERE p.company_id = h.company_id AND p.is_default));
--> statement-breakpoint
ALTER TABLE "task_history" ALTER COLUMN "project_id" SET NOT NULL;
