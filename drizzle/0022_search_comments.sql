-- Search covers a task's comments: search (the GIN-indexed vector every search matches and ranks)
-- becomes title (weight A) || description (B) || comments_search (C), the comments' text kept on
-- the task by the trigger below. One vector and one index per task, as before: a search stays one
-- GIN lookup and ranks each match with one ts_rank, whatever the number of comments.
ALTER TABLE "tasks" ADD COLUMN "comments_search" "tsvector" DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" DROP COLUMN "search";--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english', "title"), 'A') || setweight(to_tsvector('english', "description"), 'B') || "comments_search") STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "tasks_search_idx" ON "tasks" USING gin ("search");--> statement-breakpoint
-- The comments' text of the tasks named, oldest comment first, as one vector of weight C. Capped at
-- 100,000 characters so that a long thread can never exceed a tsvector's 1 MB: later comments
-- beyond that are not searchable (a thread of 10 comments of the 10,000-character maximum).
CREATE FUNCTION comments_search_of(company int, task int) RETURNS tsvector LANGUAGE sql STABLE
SET search_path = public AS $$
  SELECT coalesce(setweight(to_tsvector('english', left(string_agg(c.body, E'\n' ORDER BY c.id), 100000)), 'C'), '')
  FROM comments c WHERE c.company_id = company AND c.task_id = task
$$;
--> statement-breakpoint
-- The comment count (0021's row trigger) is kept here too: one new version of each commented
-- task's row per statement instead of two per comment (a seed of 300,000 comments rewrote every
-- task four times over).
DROP TRIGGER comments_counted ON comments;--> statement-breakpoint
DROP FUNCTION comments_counted();--> statement-breakpoint
-- Kept in the commenting transaction, once per statement for every task it touched (a seed of
-- 300,000 comments updates each task once). The tasks are locked first and their comments read in
-- the next statement, with a snapshot taken after the lock: two transactions commenting on one
-- task at once each see the other's comment once it has committed, so the last one to write the
-- vector includes both. SECURITY DEFINER as tasks_system, like comments_counted() (0021): the
-- vector holds every comment, and is read only through the task's own visibility.
CREATE FUNCTION comments_searched() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  companies int[];
  ids int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(company_id), array_agg(task_id) INTO companies, ids
    FROM (SELECT DISTINCT company_id, task_id FROM new_comments) k;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(company_id), array_agg(task_id) INTO companies, ids
    FROM (SELECT DISTINCT company_id, task_id FROM old_comments) k;
  ELSE
    SELECT array_agg(company_id), array_agg(task_id) INTO companies, ids
    FROM (SELECT n.company_id, n.task_id FROM new_comments n JOIN old_comments o ON o.company_id = n.company_id AND o.id = n.id
          WHERE o.body IS DISTINCT FROM n.body OR o.task_id <> n.task_id
          UNION
          SELECT o.company_id, o.task_id FROM new_comments n JOIN old_comments o ON o.company_id = n.company_id AND o.id = n.id
          WHERE o.task_id <> n.task_id) k;
  END IF;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM tasks t JOIN unnest(companies, ids) AS k(company_id, task_id)
    ON t.company_id = k.company_id AND t.id = k.task_id
    ORDER BY t.company_id, t.id FOR NO KEY UPDATE OF t;
  UPDATE tasks t SET comments_search = comments_search_of(t.company_id, t.id),
    comment_count = (SELECT count(*) FROM comments c WHERE c.company_id = t.company_id AND c.task_id = t.id)
  FROM unnest(companies, ids) AS k(company_id, task_id)
  WHERE t.company_id = k.company_id AND t.id = k.task_id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
ALTER FUNCTION comments_searched() OWNER TO tasks_system;
--> statement-breakpoint
CREATE TRIGGER comments_searched_inserted AFTER INSERT ON comments
  REFERENCING NEW TABLE AS new_comments FOR EACH STATEMENT EXECUTE FUNCTION comments_searched();
--> statement-breakpoint
CREATE TRIGGER comments_searched_updated AFTER UPDATE ON comments
  REFERENCING OLD TABLE AS old_comments NEW TABLE AS new_comments FOR EACH STATEMENT EXECUTE FUNCTION comments_searched();
--> statement-breakpoint
CREATE TRIGGER comments_searched_deleted AFTER DELETE ON comments
  REFERENCING OLD TABLE AS old_comments FOR EACH STATEMENT EXECUTE FUNCTION comments_searched();
--> statement-breakpoint
-- Comments written before this migration.
UPDATE tasks t SET comments_search = comments_search_of(t.company_id, t.id)
WHERE EXISTS (SELECT 1 FROM comments c WHERE c.company_id = t.company_id AND c.task_id = t.id);
