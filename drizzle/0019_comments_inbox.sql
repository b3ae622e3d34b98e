CREATE TABLE "comments" (
	"company_id" integer NOT NULL,
	"id" integer GENERATED ALWAYS AS IDENTITY (sequence name "comments_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"task_id" integer NOT NULL,
	"author_id" integer NOT NULL,
	"body" text NOT NULL,
	"mentions" integer[] DEFAULT '{}' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"edited" boolean DEFAULT false NOT NULL,
	CONSTRAINT "comments_company_id_id_pk" PRIMARY KEY("company_id","id")
);
--> statement-breakpoint
CREATE TABLE "inbox_items" (
	"company_id" integer NOT NULL,
	"id" integer GENERATED ALWAYS AS IDENTITY (sequence name "inbox_items_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"user_id" integer NOT NULL,
	"kind" text NOT NULL,
	"task_id" integer NOT NULL,
	"actor_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"read_at" timestamp with time zone,
	CONSTRAINT "inbox_items_company_id_id_pk" PRIMARY KEY("company_id","id"),
	CONSTRAINT "inbox_items_kind_check" CHECK ("inbox_items"."kind" in ('assigned', 'mentioned', 'commented', 'status_changed', 'unblocked', 'due_soon'))
);
--> statement-breakpoint
CREATE TABLE "task_watchers" (
	"company_id" integer NOT NULL,
	"task_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	CONSTRAINT "task_watchers_company_id_task_id_user_id_pk" PRIMARY KEY("company_id","task_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "notifications" DROP CONSTRAINT "notifications_kind_check";--> statement-breakpoint
ALTER TABLE "notification_preferences" ADD COLUMN "email_on_mention" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "notification_preferences" ADD COLUMN "email_on_comment" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "comment_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "comments" ADD CONSTRAINT "comments_company_id_task_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","task_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "comments" ADD CONSTRAINT "comments_company_id_author_id_users_company_id_id_fk" FOREIGN KEY ("company_id","author_id") REFERENCES "public"."users"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_items" ADD CONSTRAINT "inbox_items_company_id_task_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","task_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_items" ADD CONSTRAINT "inbox_items_company_id_user_id_users_company_id_id_fk" FOREIGN KEY ("company_id","user_id") REFERENCES "public"."users"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_items" ADD CONSTRAINT "inbox_items_company_id_actor_id_users_company_id_id_fk" FOREIGN KEY ("company_id","actor_id") REFERENCES "public"."users"("company_id","id") ON DELETE SET NULL ("actor_id") ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_watchers" ADD CONSTRAINT "task_watchers_company_id_task_id_tasks_company_id_id_fk" FOREIGN KEY ("company_id","task_id") REFERENCES "public"."tasks"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_watchers" ADD CONSTRAINT "task_watchers_company_id_user_id_users_company_id_id_fk" FOREIGN KEY ("company_id","user_id") REFERENCES "public"."users"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "comments_task_idx" ON "comments" USING btree ("company_id","task_id","id");--> statement-breakpoint
CREATE INDEX "inbox_items_user_idx" ON "inbox_items" USING btree ("company_id","user_id","id");--> statement-breakpoint
CREATE INDEX "inbox_items_unread_idx" ON "inbox_items" USING btree ("company_id","user_id","id") WHERE "inbox_items"."read_at" is null;--> statement-breakpoint
CREATE INDEX "inbox_items_task_idx" ON "inbox_items" USING btree ("company_id","task_id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_pending_comment_key" ON "notifications" USING btree ("company_id","task_id","recipient_id") WHERE "notifications"."status" = 'pending' and "notifications"."handed_over_at" is null and "notifications"."kind" in ('mentioned', 'commented');--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_kind_check" CHECK ("notifications"."kind" in ('assigned', 'status_changed', 'unblocked', 'due_soon', 'digest', 'mentioned', 'commented'));--> statement-breakpoint
SELECT enable_tenant_isolation('comments');
--> statement-breakpoint
SELECT enable_tenant_isolation('task_watchers');
--> statement-breakpoint
SELECT enable_tenant_isolation('inbox_items');
--> statement-breakpoint
-- A task's comments follow their task, as its labels do (0016): the rows of the tasks the user sees.
DROP POLICY tenant_isolation ON comments;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON comments TO tasks_app
  USING (company_id = NULLIF(current_setting('app.company_id', true), '')::int
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.company_id = comments.company_id AND t.id = comments.task_id))
  WITH CHECK (company_id = NULLIF(current_setting('app.company_id', true), '')::int);
--> statement-breakpoint
-- Watching and inbox items follow their task too, and are the user's own: a user reads and changes
-- only their own rows. A write that concerns others (a comment's watchers get an item, a mentioned
-- user starts watching) runs that part in the company's view, with no user named (withoutUser in
-- platform/db), inside the writer's transaction; inserting is checked for the company only.
DROP POLICY tenant_isolation ON task_watchers;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON task_watchers TO tasks_app
  USING (company_id = NULLIF(current_setting('app.company_id', true), '')::int
         AND (NULLIF(current_setting('app.user_id', true), '') IS NULL
              OR user_id = NULLIF(current_setting('app.user_id', true), '')::int)
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.company_id = task_watchers.company_id AND t.id = task_watchers.task_id))
  WITH CHECK (company_id = NULLIF(current_setting('app.company_id', true), '')::int);
--> statement-breakpoint
DROP POLICY tenant_isolation ON inbox_items;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON inbox_items TO tasks_app
  USING (company_id = NULLIF(current_setting('app.company_id', true), '')::int
         AND (NULLIF(current_setting('app.user_id', true), '') IS NULL
              OR user_id = NULLIF(current_setting('app.user_id', true), '')::int)
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.company_id = inbox_items.company_id AND t.id = inbox_items.task_id))
  WITH CHECK (company_id = NULLIF(current_setting('app.company_id', true), '')::int);
--> statement-breakpoint
-- tasks.comment_count, kept in the commenting transaction so that lists read a column rather than
-- count per row. SECURITY DEFINER as tasks_system, like the other kept counters (0018): the count
-- is of every comment, and a task's deletion cascading to its comments finds no row left to update.
CREATE FUNCTION comments_counted() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  c record := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
BEGIN
  UPDATE tasks t SET comment_count = t.comment_count + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END
  WHERE t.company_id = c.company_id AND t.id = c.task_id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
ALTER FUNCTION comments_counted() OWNER TO tasks_system;
--> statement-breakpoint
CREATE TRIGGER comments_counted AFTER INSERT OR DELETE ON comments
  FOR EACH ROW EXECUTE FUNCTION comments_counted();
