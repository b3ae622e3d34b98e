-- The task tables are tenant tables: the same row-level security as the others (see 0001).
SELECT enable_tenant_isolation('tasks');
--> statement-breakpoint
SELECT enable_tenant_isolation('task_history');
--> statement-breakpoint
SELECT enable_tenant_isolation('idempotency_keys');
