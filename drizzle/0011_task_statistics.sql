CREATE TABLE "task_assignee_counts" (
	"company_id" integer NOT NULL,
	"assigned_to" integer NOT NULL,
	"shard" smallint NOT NULL,
	"total" integer DEFAULT 0 NOT NULL,
	"done" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "task_assignee_counts_company_id_assigned_to_shard_pk" PRIMARY KEY("company_id","assigned_to","shard")
);
--> statement-breakpoint
CREATE TABLE "task_days" (
	"company_id" integer NOT NULL,
	"day" date NOT NULL,
	"shard" smallint NOT NULL,
	"created" integer DEFAULT 0 NOT NULL,
	"open_due" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "task_days_company_id_day_shard_pk" PRIMARY KEY("company_id","day","shard")
);
--> statement-breakpoint
CREATE TABLE "task_stats" (
	"company_id" integer NOT NULL,
	"shard" smallint NOT NULL,
	"todo" integer DEFAULT 0 NOT NULL,
	"in_progress" integer DEFAULT 0 NOT NULL,
	"done" integer DEFAULT 0 NOT NULL,
	"low" integer DEFAULT 0 NOT NULL,
	"medium" integer DEFAULT 0 NOT NULL,
	"high" integer DEFAULT 0 NOT NULL,
	"urgent" integer DEFAULT 0 NOT NULL,
	"unassigned" integer DEFAULT 0 NOT NULL,
	"completed" integer DEFAULT 0 NOT NULL,
	"completion_seconds" numeric DEFAULT '0' NOT NULL,
	CONSTRAINT "task_stats_company_id_shard_pk" PRIMARY KEY("company_id","shard")
);
--> statement-breakpoint
CREATE INDEX "tasks_open_due_idx" ON "tasks" USING btree ("company_id","due_date") WHERE "tasks"."status" <> 'done';