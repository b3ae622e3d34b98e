-- Notifications are tenant tables: the same row-level security as the others (see 0001).
SELECT enable_tenant_isolation('notification_preferences');
--> statement-breakpoint
SELECT enable_tenant_isolation('notifications');
