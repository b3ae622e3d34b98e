CREATE TABLE "task_counts" (
	"company_id" integer NOT NULL,
	"status" text NOT NULL,
	"shard" smallint NOT NULL,
	"n" integer NOT NULL,
	CONSTRAINT "task_counts_company_id_status_shard_pk" PRIMARY KEY("company_id","status","shard")
);
