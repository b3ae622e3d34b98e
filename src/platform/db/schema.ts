/**
 * The one schema module for both drivers. Every tenant table carries company_id first in its
 * primary key, and every reference between tenant tables includes company_id, so a row can only
 * point at rows of its own company and the tables can later be distributed by company.
 * Row-level security for these tables is declared in the migrations (drizzle/).
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const companies = pgTable(
  'companies',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    name: text('name').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('companies_name_lower_key').on(sql`lower(${t.name})`)],
);

export const USER_ROLES = ['admin', 'member'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const users = pgTable(
  'users',
  {
    companyId: integer('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    username: text('username').notNull(),
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    firstName: text('first_name').notNull().default(''),
    lastName: text('last_name').notNull().default(''),
    role: text('role', { enum: USER_ROLES }).notNull().default('member'),
    isActive: boolean('is_active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    // Usernames and emails identify a person at login, before any company is known.
    uniqueIndex('users_username_lower_key').on(sql`lower(${t.username})`),
    uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`),
    check('users_role_check', sql`${t.role} in ('admin', 'member')`),
  ],
);

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    companyId: integer('company_id').notNull(),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    userId: integer('user_id').notNull(),
    familyId: uuid('family_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.userId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
    uniqueIndex('refresh_tokens_token_hash_key').on(t.tokenHash),
    index('refresh_tokens_family_idx').on(t.companyId, t.familyId),
    index('refresh_tokens_expires_idx').on(t.expiresAt),
  ],
);

export const invitations = pgTable(
  'invitations',
  {
    companyId: integer('company_id').notNull(),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    email: text('email').notNull(),
    role: text('role', { enum: USER_ROLES }).notNull().default('member'),
    tokenHash: text('token_hash').notNull(),
    invitedBy: integer('invited_by').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    acceptedBy: integer('accepted_by'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.invitedBy], foreignColumns: [users.companyId, users.id] }).onDelete(
      'cascade',
    ),
    foreignKey({ columns: [t.companyId, t.acceptedBy], foreignColumns: [users.companyId, users.id] }),
    uniqueIndex('invitations_token_hash_key').on(t.tokenHash),
    index('invitations_expires_idx').on(t.expiresAt),
    check('invitations_role_check', sql`${t.role} in ('admin', 'member')`),
  ],
);

export const TASK_STATUSES = ['todo', 'in_progress', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** In rank order: ordering by priority sorts by this position, not alphabetically. */
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * 'english' rather than 'simple': searches match word stems ("running" finds "runs"), and both
 * PostgreSQL 15 and PGlite ship the same Snowball dictionary, so both index alike. The config is
 * named as a constant because a generated column needs an immutable expression; searches must
 * use the same one (TEXT_SEARCH_CONFIG). Words of other languages are still indexed, unstemmed.
 */
export const TEXT_SEARCH_CONFIG = 'english';

export const tasks = pgTable(
  'tasks',
  {
    companyId: integer('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    status: text('status', { enum: TASK_STATUSES }).notNull().default('todo'),
    priority: text('priority', { enum: TASK_PRIORITIES }).notNull().default('medium'),
    priorityRank: smallint('priority_rank')
      .notNull()
      .generatedAlwaysAs(
        sql`CASE "priority" WHEN 'low' THEN 0 WHEN 'medium' THEN 1 WHEN 'high' THEN 2 WHEN 'urgent' THEN 3 END`,
      ),
    dueDate: timestamp('due_date', { withTimezone: true }),
    assignedTo: integer('assigned_to'),
    createdBy: integer('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(
        sql`setweight(to_tsvector('english', "title"), 'A') || setweight(to_tsvector('english', "description"), 'B')`,
      ),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    // The database itself refuses an assignee or author from another company.
    foreignKey({ columns: [t.companyId, t.assignedTo], foreignColumns: [users.companyId, users.id] }),
    foreignKey({ columns: [t.companyId, t.createdBy], foreignColumns: [users.companyId, users.id] }).onDelete(
      'cascade',
    ),
    check('tasks_status_check', sql`${t.status} in ('todo', 'in_progress', 'done')`),
    check('tasks_priority_check', sql`${t.priority} in ('low', 'medium', 'high', 'urgent')`),
    // One per list ordering and filter; id last, as every ordering ends with it to be stable.
    // Each serves both directions, read backwards for descending.
    index('tasks_created_idx').on(t.companyId, t.createdAt, t.id),
    index('tasks_updated_idx').on(t.companyId, t.updatedAt, t.id),
    index('tasks_due_idx').on(t.companyId, t.dueDate, t.id),
    index('tasks_priority_idx').on(t.companyId, t.priorityRank, t.id),
    index('tasks_status_idx').on(t.companyId, t.status, t.createdAt, t.id),
    index('tasks_assigned_idx').on(t.companyId, t.assignedTo, t.createdAt, t.id),
    index('tasks_created_by_idx').on(t.companyId, t.createdBy, t.createdAt, t.id),
    index('tasks_search_idx').using('gin', t.search),
    // Every column the statistics read, so they come from an index-only scan instead of the wide rows.
    index('tasks_statistics_idx').on(
      t.companyId,
      t.status,
      t.priority,
      t.assignedTo,
      t.dueDate,
      t.createdAt,
      t.completedAt,
    ),
  ],
);

/**
 * The number of tasks of each company and status, kept by triggers on tasks (drizzle/0007), so a
 * list without filters, or with only a status, counts in microseconds instead of scanning the
 * company's tasks. Spread over a few shard rows per status, so concurrent writes in one company
 * rarely wait on the same row. Exact: the triggers run in the writing transaction.
 */
export const taskCounts = pgTable(
  'task_counts',
  {
    companyId: integer('company_id').notNull(),
    status: text('status', { enum: TASK_STATUSES }).notNull(),
    shard: smallint('shard').notNull(),
    n: integer('n').notNull(),
  },
  (t) => [primaryKey({ columns: [t.companyId, t.status, t.shard] })],
);

export const TASK_HISTORY_ACTIONS = ['created', 'updated', 'deleted'] as const;
export type TaskHistoryAction = (typeof TASK_HISTORY_ACTIONS)[number];

/**
 * Who changed which task field from what to what. task_id deliberately has no foreign key: the
 * history of a deleted task outlives it.
 */
export const taskHistory = pgTable(
  'task_history',
  {
    companyId: integer('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    taskId: integer('task_id').notNull(),
    actorId: integer('actor_id').notNull(),
    action: text('action', { enum: TASK_HISTORY_ACTIONS }).notNull(),
    /** {field: [old, new]} in the task's JSON form. */
    changes: jsonb('changes').$type<Record<string, [unknown, unknown]>>().notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.actorId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
    check('task_history_action_check', sql`${t.action} in ('created', 'updated', 'deleted')`),
    index('task_history_task_idx').on(t.companyId, t.taskId, t.at, t.id),
    // What GET /api/tasks/deleted/?since= reads: a company's deletions in time order.
    index('task_history_deleted_idx').on(t.companyId, t.at, t.id).where(sql`${t.action} = 'deleted'`),
  ],
);

/**
 * The first answer to a POST made with an Idempotency-Key, replayed for the same user's retries.
 * The row is claimed in the same transaction that creates the task, so a concurrent duplicate
 * waits on it and then finds the answer instead of creating a second task.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    companyId: integer('company_id').notNull(),
    userId: integer('user_id').notNull(),
    key: text('key').notNull(),
    statusCode: integer('status_code'),
    body: jsonb('body'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.userId, t.key] }),
    foreignKey({ columns: [t.companyId, t.userId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
    index('idempotency_keys_created_idx').on(t.createdAt),
  ],
);

/** The tables that row-level security confines to one company. */
export const TENANT_TABLES = [
  'companies',
  'users',
  'refresh_tokens',
  'invitations',
  'tasks',
  'task_history',
  'idempotency_keys',
  'task_counts',
] as const;
