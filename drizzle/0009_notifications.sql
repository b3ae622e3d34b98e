CREATE TABLE "notification_preferences" (
	"company_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"email_on_assignment" boolean DEFAULT true NOT NULL,
	"email_on_status_change" boolean DEFAULT false NOT NULL,
	"daily_digest" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notification_preferences_company_id_user_id_pk" PRIMARY KEY("company_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"company_id" integer NOT NULL,
	"id" integer GENERATED ALWAYS AS IDENTITY (sequence name "notifications_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"kind" text NOT NULL,
	"task_id" integer,
	"recipient_id" integer NOT NULL,
	"recipient" text NOT NULL,
	"actor_id" integer,
	"subject" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"scheduled_for" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"error" text,
	"revision" integer DEFAULT 0 NOT NULL,
	"handed_over_at" timestamp with time zone,
	"server_response" text,
	"due_date" timestamp with time zone,
	"digest_day" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notifications_company_id_id_pk" PRIMARY KEY("company_id","id"),
	CONSTRAINT "notifications_kind_check" CHECK ("notifications"."kind" in ('assigned', 'status_changed', 'due_soon', 'digest')),
	CONSTRAINT "notifications_status_check" CHECK ("notifications"."status" in ('pending', 'sent', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "notification_preferences" ADD CONSTRAINT "notification_preferences_company_id_user_id_users_company_id_id_fk" FOREIGN KEY ("company_id","user_id") REFERENCES "public"."users"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_company_id_recipient_id_users_company_id_id_fk" FOREIGN KEY ("company_id","recipient_id") REFERENCES "public"."users"("company_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notifications_recipient_idx" ON "notifications" USING btree ("company_id","recipient_id","created_at","id");--> statement-breakpoint
CREATE INDEX "notifications_task_idx" ON "notifications" USING btree ("company_id","task_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_pending_change_key" ON "notifications" USING btree ("company_id","task_id","recipient_id") WHERE "notifications"."status" = 'pending' and "notifications"."handed_over_at" is null and "notifications"."kind" in ('assigned', 'status_changed');--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_due_soon_key" ON "notifications" USING btree ("company_id","task_id","due_date") WHERE "notifications"."kind" = 'due_soon';--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_digest_key" ON "notifications" USING btree ("company_id","recipient_id","digest_day") WHERE "notifications"."kind" = 'digest';--> statement-breakpoint
CREATE INDEX "tasks_due_open_idx" ON "tasks" USING btree ("due_date") WHERE "tasks"."status" <> 'done' and "tasks"."assigned_to" is not null;