-- task_counts follows tasks in the writing transaction. Statement-level triggers with transition
-- tables: a bulk insert (the seed) makes one upsert per company and status, not one per row.
-- Each change lands on a random one of 8 shard rows, so concurrent writers in one company seldom
-- queue on the same row; a shard may go negative, only the sum means anything. Rows are taken in
-- (company, status) order, so two status changes in opposite directions cannot deadlock.
-- No foreign key to companies: deleting a company deletes its tasks, whose trigger must not trip
-- over the company row going away; the leftover counters of a deleted company are harmless.
SELECT enable_tenant_isolation('task_counts');
--> statement-breakpoint
INSERT INTO task_counts (company_id, status, shard, n)
SELECT company_id, status, 0, count(*) FROM tasks GROUP BY company_id, status;
--> statement-breakpoint
CREATE FUNCTION task_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_counts AS c (company_id, status, shard, n)
  SELECT company_id, status, floor(random() * 8)::smallint, count(*) FROM new_rows GROUP BY company_id, status
  ORDER BY company_id, status
  ON CONFLICT (company_id, status, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION task_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_counts AS c (company_id, status, shard, n)
  SELECT company_id, status, floor(random() * 8)::smallint, -count(*) FROM old_rows GROUP BY company_id, status
  ORDER BY company_id, status
  ON CONFLICT (company_id, status, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION task_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_counts AS c (company_id, status, shard, n)
  SELECT company_id, status, floor(random() * 8)::smallint, sum(delta)
  FROM (
    SELECT company_id, status, 1 AS delta FROM new_rows
    UNION ALL
    SELECT company_id, status, -1 AS delta FROM old_rows
  ) changes
  GROUP BY company_id, status
  HAVING sum(delta) <> 0
  ORDER BY company_id, status
  ON CONFLICT (company_id, status, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER task_counts_inserted AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counts_inserted();
--> statement-breakpoint
CREATE TRIGGER task_counts_deleted AFTER DELETE ON tasks
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counts_deleted();
--> statement-breakpoint
CREATE TRIGGER task_counts_updated AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counts_updated();
