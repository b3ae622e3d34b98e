CREATE TABLE "attachment_garbage" (
	"company_id" integer NOT NULL,
	"storage_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attachment_garbage_company_id_storage_key_pk" PRIMARY KEY("company_id","storage_key")
);
--> statement-breakpoint
CREATE TABLE "attachment_uploads" (
	"company_id" integer NOT NULL,
	"storage_key" text NOT NULL,
	"reserved" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attachment_uploads_company_id_storage_key_pk" PRIMARY KEY("company_id","storage_key")
);
--> statement-breakpoint
CREATE TABLE "attachments" (
	"company_id" integer NOT NULL,
	"id" integer GENERATED ALWAYS AS IDENTITY (sequence name "attachments_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"task_id" integer NOT NULL,
	"filename" text NOT NULL,
	"content_type" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"storage_key" text NOT NULL,
	"uploaded_by" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attachments_company_id_id_pk" PRIMARY KEY("company_id","id"),
	CONSTRAINT "attachments_size_positive" CHECK ("attachments"."size" > 0)
);
--> statement-breakpoint
CREATE TABLE "storage_usage" (
	"company_id" integer PRIMARY KEY NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "attachment_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_company_id_task_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","task_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_company_id_uploaded_by_users_company_id_id_fk" FOREIGN KEY ("company_id","uploaded_by") REFERENCES "public"."users"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storage_usage" ADD CONSTRAINT "storage_usage_company_id_companies_id_fk" FOREIGN KEY ("company_id") REFERENCES "public"."companies"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attachment_uploads_created_idx" ON "attachment_uploads" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "attachments_task_idx" ON "attachments" USING btree ("company_id","task_id","created_at");--> statement-breakpoint
SELECT enable_tenant_isolation('attachments');
--> statement-breakpoint
SELECT enable_tenant_isolation('attachment_uploads');
--> statement-breakpoint
SELECT enable_tenant_isolation('attachment_garbage');
--> statement-breakpoint
SELECT enable_tenant_isolation('storage_usage');
--> statement-breakpoint
-- An attachment follows its task, as task_labels do (drizzle/0016): the rows of the tasks the user sees.
DROP POLICY tenant_isolation ON attachments;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON attachments TO tasks_app
  USING (company_id = NULLIF(current_setting('app.company_id', true), '')::int
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.company_id = attachments.company_id AND t.id = attachments.task_id))
  WITH CHECK (company_id = NULLIF(current_setting('app.company_id', true), '')::int);
--> statement-breakpoint
-- In the writing transaction: the task's attachment_count, the company's storage_usage, and, for a
-- row deleted by any path (its DELETE, its task's or uploader's cascade), its bytes queued for the
-- attachments worker, which removes them once this has committed. SECURITY DEFINER as tasks_system:
-- the counters are kept whoever writes, and the cascade of a task deletion runs as the table owner.
CREATE FUNCTION attachments_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE tasks t SET attachment_count = t.attachment_count + 1 WHERE t.company_id = NEW.company_id AND t.id = NEW.task_id;
    INSERT INTO storage_usage AS u (company_id, bytes) VALUES (NEW.company_id, NEW.size)
      ON CONFLICT (company_id) DO UPDATE SET bytes = u.bytes + excluded.bytes;
    RETURN NULL;
  END IF;
  -- A task being deleted is gone already (the cascade runs after its row): no count to keep.
  UPDATE tasks t SET attachment_count = t.attachment_count - 1 WHERE t.company_id = OLD.company_id AND t.id = OLD.task_id;
  UPDATE storage_usage u SET bytes = u.bytes - OLD.size WHERE u.company_id = OLD.company_id;
  INSERT INTO attachment_garbage (company_id, storage_key) VALUES (OLD.company_id, OLD.storage_key)
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;
--> statement-breakpoint
ALTER FUNCTION attachments_changed() OWNER TO tasks_system;
--> statement-breakpoint
CREATE TRIGGER attachments_changed AFTER INSERT OR DELETE ON attachments
  FOR EACH ROW EXECUTE FUNCTION attachments_changed();
