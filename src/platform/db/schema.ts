/**
 * The one schema module for both drivers. Every tenant table carries company_id first in its
 * primary key, and every reference between tenant tables includes company_id, so a row can only
 * point at rows of its own company and the tables can later be distributed by company.
 * Row-level security for these tables is declared in the migrations (drizzle/).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  numeric,
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

export const USER_ROLES = ['admin', 'member', 'guest'] as const;
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
    check('users_role_check', sql`${t.role} in ('admin', 'member', 'guest')`),
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
    check('invitations_role_check', sql`${t.role} in ('admin', 'member', 'guest')`),
  ],
);

export const PROJECT_ROLES = ['manager', 'member', 'viewer'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

/**
 * A company's projects. Every company has exactly one default project (made with the company by
 * the trigger company_default_project(), drizzle/0015), which holds the tasks of version 1.
 * next_number is the project's task counter: a task's creating transaction takes its number by
 * updating this row, so numbers are given in commit order, without gaps, and never twice.
 */
export const projects = pgTable(
  'projects',
  {
    companyId: integer('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    key: text('key').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    isPrivate: boolean('is_private').notNull().default(false),
    isDefault: boolean('is_default').notNull().default(false),
    archived: boolean('archived').notNull().default(false),
    /** Null for the default projects the migration made for companies of version 1. */
    createdBy: integer('created_by'),
    nextNumber: integer('next_number').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    // SET NULL of created_by alone (drizzle/0015 names the column): company_id stays.
    foreignKey({ columns: [t.companyId, t.createdBy], foreignColumns: [users.companyId, users.id] }).onDelete(
      'set null',
    ),
    uniqueIndex('projects_key_key').on(t.companyId, sql`upper(${t.key})`),
    uniqueIndex('projects_default_key').on(t.companyId).where(sql`${t.isDefault}`),
    index('projects_name_idx').on(t.companyId, sql`lower(${t.name})`, t.id),
    check('projects_default_public_check', sql`not (${t.isDefault} and (${t.isPrivate} or ${t.archived}))`),
  ],
);

export const projectMembers = pgTable(
  'project_members',
  {
    companyId: integer('company_id').notNull(),
    projectId: integer('project_id').notNull(),
    userId: integer('user_id').notNull(),
    role: text('role', { enum: PROJECT_ROLES }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.projectId, t.userId] }),
    foreignKey({ columns: [t.companyId, t.projectId], foreignColumns: [projects.companyId, projects.id] }).onDelete(
      'cascade',
    ),
    foreignKey({ columns: [t.companyId, t.userId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
    index('project_members_user_idx').on(t.companyId, t.userId),
    check('project_members_role_check', sql`${t.role} in ('manager', 'member', 'viewer')`),
  ],
);

export const TASK_STATUSES = ['todo', 'in_progress', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** In rank order: ordering by priority sorts by this position, not alphabetically. */
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** A project's workflow: its columns, in position order; a task's state is one of them. */
export const statuses = pgTable(
  'statuses',
  {
    companyId: integer('company_id').notNull(),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    projectId: integer('project_id').notNull(),
    name: text('name').notNull(),
    category: text('category', { enum: TASK_STATUSES }).notNull(),
    position: integer('position').notNull(),
    color: text('color').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.projectId], foreignColumns: [projects.companyId, projects.id] }).onDelete(
      'cascade',
    ),
    // What tasks' (company, project, state) reference: a task's state is of its own project.
    uniqueIndex('statuses_project_id_key').on(t.companyId, t.projectId, t.id),
    uniqueIndex('statuses_name_key').on(t.companyId, t.projectId, sql`lower(${t.name})`),
    index('statuses_position_idx').on(t.companyId, t.projectId, t.position),
    check('statuses_category_check', sql`${t.category} in ('todo', 'in_progress', 'done')`),
  ],
);

export const labels = pgTable(
  'labels',
  {
    companyId: integer('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    name: text('name').notNull(),
    color: text('color').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    uniqueIndex('labels_name_key').on(t.companyId, sql`lower(${t.name})`),
  ],
);

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * 'english' rather than 'simple': searches match word stems ("running" finds "runs"), with the
 * Snowball dictionary every PostgreSQL ships, so the embedded server and production index alike. The config is
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
    /**
     * Filled by the trigger tasks_fill_project() (drizzle/0015) when a write leaves them out: the
     * company's default project, its next number, and the project's first status of the task's
     * status category. It also keeps status (version 1) equal to the state's category.
     */
    projectId: integer('project_id').notNull(),
    number: integer('number').notNull(),
    stateId: integer('state_id').notNull(),
    /** The task it is a subtask of; set to null by the trigger tasks_links_deleted() when that one is deleted. */
    parentId: integer('parent_id'),
    /**
     * Kept by triggers in the writing transaction (drizzle/0018), over every task of the company,
     * seen by the reader or not: the direct children. The open blockers are in task_open_blockers.
     */
    subtasksTotal: integer('subtasks_total').notNull().default(0),
    subtasksDone: integer('subtasks_done').notNull().default(0),
    /** Kept with the comments' search vector by the trigger comments_searched() (drizzle/0022) in the commenting transaction. */
    commentCount: integer('comment_count').notNull().default(0),
    /** Kept by the trigger attachments_changed() (drizzle/0023) in the writing transaction. */
    attachmentCount: integer('attachment_count').notNull().default(0),
    /**
     * The text of the task's comments as one weighted vector (weight C), kept by the trigger
     * comments_searched() (drizzle/0022) in the commenting transaction: part of search below.
     */
    commentsSearch: tsvector('comments_search').notNull().default(sql`''`),
    /** What a search matches and ranks: title (weight A), description (B), comments (C). */
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(
        sql`setweight(to_tsvector('english', "title"), 'A') || setweight(to_tsvector('english', "description"), 'B') || "comments_search"`,
      ),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    // The database itself refuses an assignee or author from another company.
    foreignKey({ columns: [t.companyId, t.assignedTo], foreignColumns: [users.companyId, users.id] }),
    foreignKey({ columns: [t.companyId, t.createdBy], foreignColumns: [users.companyId, users.id] }).onDelete(
      'cascade',
    ),
    foreignKey({ columns: [t.companyId, t.projectId], foreignColumns: [projects.companyId, projects.id] }),
    foreignKey({
      columns: [t.companyId, t.projectId, t.stateId],
      foreignColumns: [statuses.companyId, statuses.projectId, statuses.id],
    }),
    uniqueIndex('tasks_number_key').on(t.companyId, t.projectId, t.number),
    index('tasks_project_idx').on(t.companyId, t.projectId, t.createdAt, t.id),
    index('tasks_state_idx').on(t.companyId, t.stateId),
    index('tasks_parent_idx').on(t.companyId, t.parentId).where(sql`${t.parentId} is not null`),
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
    // Whether the caller sees a task, as the policies of the tables hanging off tasks ask it (task_labels,
    // task_dependencies, comments): read from the index alone. Without it the planner, expecting a company's
    // average 130 tasks, answered the lookup by id from tasks_project_idx, walking every entry of a
    // company with 100,000 of them for each label of each row of a page (the list at 80 → 500
    // transactions a second, pgbench, a member of such a company).
    index('tasks_seen_idx').on(t.companyId, t.id, t.projectId),
    // The due-soon reminder's scan across companies: open, assigned tasks by due date.
    index('tasks_due_open_idx').on(t.dueDate).where(sql`${t.status} <> 'done' and ${t.assignedTo} is not null`),
    // The part of overdue that counters cannot keep (open tasks due earlier today): a short range.
    index('tasks_open_due_idx').on(t.companyId, t.dueDate).where(sql`${t.status} <> 'done'`),
  ],
);

/**
 * The statistics' scalar figures per company, kept in the writing transaction by the trigger
 * function task_counters_changed() on tasks (current definition: drizzle/0014): tasks by status and
 * by priority, unassigned ones, and over done tasks with a completed_at, how many and their summed
 * seconds from creation to completion. The list counts from it too, without filters or with only
 * a status, in microseconds instead of scanning the company's tasks. Each connection writes its
 * own shard row (its backend pid modulo 16), so writers in one company do not wait on each other;
 * a shard may go negative, only the sums mean anything.
 */
export const taskStats = pgTable(
  'task_stats',
  {
    companyId: integer('company_id').notNull(),
    projectId: integer('project_id').notNull(),
    shard: smallint('shard').notNull(),
    todo: integer('todo').notNull().default(0),
    inProgress: integer('in_progress').notNull().default(0),
    done: integer('done').notNull().default(0),
    low: integer('low').notNull().default(0),
    medium: integer('medium').notNull().default(0),
    high: integer('high').notNull().default(0),
    urgent: integer('urgent').notNull().default(0),
    unassigned: integer('unassigned').notNull().default(0),
    completed: integer('completed').notNull().default(0),
    /** Exact: the sum of extract(epoch from completed_at - created_at), microseconds included. */
    completionSeconds: numeric('completion_seconds').notNull().default('0'),
  },
  (t) => [primaryKey({ columns: [t.companyId, t.projectId, t.shard] })],
);

/** Tasks per assignee, and how many of them are done (statistics' by_assignee); kept like task_stats. */
export const taskAssigneeCounts = pgTable(
  'task_assignee_counts',
  {
    companyId: integer('company_id').notNull(),
    projectId: integer('project_id').notNull(),
    assignedTo: integer('assigned_to').notNull(),
    shard: smallint('shard').notNull(),
    total: integer('total').notNull().default(0),
    done: integer('done').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.companyId, t.projectId, t.assignedTo, t.shard] })],
);

/** Tasks per workflow status (statistics' by_state for one project); kept like task_stats. */
export const taskStateCounts = pgTable(
  'task_state_counts',
  {
    companyId: integer('company_id').notNull(),
    projectId: integer('project_id').notNull(),
    stateId: integer('state_id').notNull(),
    shard: smallint('shard').notNull(),
    total: integer('total').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.companyId, t.projectId, t.stateId, t.shard] })],
);

/**
 * Per UTC date, kept like task_stats: tasks created that day (statistics' created_per_day), and
 * open tasks (not done) due that day, whose days before today sum to most of overdue.
 */
export const taskDays = pgTable(
  'task_days',
  {
    companyId: integer('company_id').notNull(),
    projectId: integer('project_id').notNull(),
    day: date('day').notNull(),
    shard: smallint('shard').notNull(),
    created: integer('created').notNull().default(0),
    openDue: integer('open_due').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.companyId, t.projectId, t.day, t.shard] })],
);

export const taskLabels = pgTable(
  'task_labels',
  {
    companyId: integer('company_id').notNull(),
    taskId: integer('task_id').notNull(),
    labelId: integer('label_id').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.taskId, t.labelId] }),
    foreignKey({ columns: [t.companyId, t.taskId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete('cascade'),
    foreignKey({ columns: [t.companyId, t.labelId], foreignColumns: [labels.companyId, labels.id] }).onDelete(
      'cascade',
    ),
    index('task_labels_label_idx').on(t.companyId, t.labelId, t.taskId),
  ],
);

/** task_id waits for blocker_id (its blocked_by). The edges of a company's graph, acyclic (checked on write). */
export const taskDependencies = pgTable(
  'task_dependencies',
  {
    companyId: integer('company_id').notNull(),
    taskId: integer('task_id').notNull(),
    blockerId: integer('blocker_id').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.taskId, t.blockerId] }),
    foreignKey({ columns: [t.companyId, t.taskId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete('cascade'),
    foreignKey({ columns: [t.companyId, t.blockerId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete(
      'cascade',
    ),
    index('task_dependencies_blocker_idx').on(t.companyId, t.blockerId, t.taskId),
    check('task_dependencies_not_self', sql`${t.taskId} <> ${t.blockerId}`),
  ],
);

/**
 * How many of a task's blockers are not in a done state, over every task of the company, seen by the
 * reader or not: kept by triggers in the writing transaction (drizzle/0018, 0024). A row from the
 * task's first dependency on (none: 0). Apart from the wide task row, so that a hub task done or
 * reopened rewrites thousands of these narrow rows, not thousands of tasks and their indexes.
 */
export const taskOpenBlockers = pgTable(
  'task_open_blockers',
  {
    companyId: integer('company_id').notNull(),
    taskId: integer('task_id').notNull(),
    openBlockers: integer('open_blockers').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.taskId] }),
    foreignKey({ columns: [t.companyId, t.taskId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete('cascade'),
  ],
);

/**
 * A task's comments (the comments feature). mentions holds the ids of the users named as @username
 * who saw the task when it was written; the body keeps the text as written.
 */
export const comments = pgTable(
  'comments',
  {
    companyId: integer('company_id').notNull(),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    taskId: integer('task_id').notNull(),
    authorId: integer('author_id').notNull(),
    body: text('body').notNull(),
    mentions: integer('mentions').array().notNull().default(sql`'{}'`),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    edited: boolean('edited').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.taskId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete('cascade'),
    foreignKey({ columns: [t.companyId, t.authorId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
    index('comments_task_idx').on(t.companyId, t.taskId, t.id),
  ],
);

/** Who watches which task (the inbox feature): watchers get the task's commented and status_changed items. */
export const taskWatchers = pgTable(
  'task_watchers',
  {
    companyId: integer('company_id').notNull(),
    taskId: integer('task_id').notNull(),
    userId: integer('user_id').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.taskId, t.userId] }),
    foreignKey({ columns: [t.companyId, t.taskId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete('cascade'),
    foreignKey({ columns: [t.companyId, t.userId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
  ],
);

export const INBOX_KINDS = ['assigned', 'mentioned', 'commented', 'status_changed', 'unblocked', 'due_soon'] as const;
export type InboxKind = (typeof INBOX_KINDS)[number];

/** One entry of a user's inbox (the inbox feature), written in the transaction of the write that causes it. */
export const inboxItems = pgTable(
  'inbox_items',
  {
    companyId: integer('company_id').notNull(),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    userId: integer('user_id').notNull(),
    kind: text('kind', { enum: INBOX_KINDS }).notNull(),
    taskId: integer('task_id').notNull(),
    /** Null for due_soon (the reminder scan), and once the actor's account is deleted. */
    actorId: integer('actor_id'),
    createdAt: createdAt(),
    readAt: timestamp('read_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.taskId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete('cascade'),
    foreignKey({ columns: [t.companyId, t.userId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
    // SET NULL of actor_id alone (the migration names the column): company_id stays.
    foreignKey({ columns: [t.companyId, t.actorId], foreignColumns: [users.companyId, users.id] }).onDelete('set null'),
    check(
      'inbox_items_kind_check',
      sql`${t.kind} in ('assigned', 'mentioned', 'commented', 'status_changed', 'unblocked', 'due_soon')`,
    ),
    // My items newest first (ids grow with time), and the unread ones: their count and ?unread=true.
    index('inbox_items_user_idx').on(t.companyId, t.userId, t.id),
    index('inbox_items_unread_idx').on(t.companyId, t.userId, t.id).where(sql`${t.readAt} is null`),
    index('inbox_items_task_idx').on(t.companyId, t.taskId),
  ],
);

/**
 * A task's files: the row is written once the bytes are stored (src/attachments/), under
 * `storage_key` in DATA_DIR/attachments or the S3 bucket. Deleting a row (itself, or through its
 * task) queues its bytes in attachment_garbage, by trigger, for removal after the commit.
 */
export const attachments = pgTable(
  'attachments',
  {
    companyId: integer('company_id').notNull(),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    taskId: integer('task_id').notNull(),
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    storageKey: text('storage_key').notNull(),
    uploadedBy: integer('uploaded_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.taskId], foreignColumns: [tasks.companyId, tasks.id] }).onDelete('cascade'),
    foreignKey({ columns: [t.companyId, t.uploadedBy], foreignColumns: [users.companyId, users.id] }).onDelete(
      'cascade',
    ),
    index('attachments_task_idx').on(t.companyId, t.taskId, t.createdAt),
    check('attachments_size_positive', sql`${t.size} > 0`),
  ],
);

/**
 * Uploads under way: written before the first byte is stored, removed when the attachment row is.
 * Their `reserved` bytes count against the quota meanwhile; one left behind by a process that died
 * names bytes to remove (the attachments worker's collection).
 */
export const attachmentUploads = pgTable(
  'attachment_uploads',
  {
    companyId: integer('company_id').notNull(),
    storageKey: text('storage_key').notNull(),
    reserved: bigint('reserved', { mode: 'number' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.storageKey] }),
    index('attachment_uploads_created_idx').on(t.createdAt),
  ],
);

/** Stored bytes whose attachment is gone, to remove; no foreign key, so that they outlive their company too. */
export const attachmentGarbage = pgTable(
  'attachment_garbage',
  {
    companyId: integer('company_id').notNull(),
    storageKey: text('storage_key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.companyId, t.storageKey] })],
);

/** A company's stored attachment bytes, kept by trigger: the quota check reads one row. */
export const storageUsage = pgTable('storage_usage', {
  companyId: integer('company_id')
    .primaryKey()
    .references(() => companies.id, { onDelete: 'cascade' }),
  bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
});

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
    /** The task's project when the entry was written: deletions are listed to those who see it (drizzle/0017). */
    projectId: integer('project_id').notNull(),
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

export const NOTIFICATION_KINDS = [
  'assigned',
  'status_changed',
  'unblocked',
  'due_soon',
  'digest',
  'mentioned',
  'commented',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export const NOTIFICATION_STATUSES = ['pending', 'sent', 'failed'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/**
 * What a user who chose nothing gets (no row): the one statement of them, read by the column
 * defaults below and by the notifications feature's code and SQL.
 */
export const NOTIFICATION_PREFERENCE_DEFAULTS = {
  emailOnAssignment: true,
  emailOnStatusChange: false,
  dailyDigest: false,
  emailOnUnblocked: true,
  emailOnMention: true,
  emailOnComment: false,
} as const;

/** A user's email choices; no row means the defaults. */
export const notificationPreferences = pgTable(
  'notification_preferences',
  {
    companyId: integer('company_id').notNull(),
    userId: integer('user_id').notNull(),
    emailOnAssignment: boolean('email_on_assignment')
      .notNull()
      .default(NOTIFICATION_PREFERENCE_DEFAULTS.emailOnAssignment),
    emailOnStatusChange: boolean('email_on_status_change')
      .notNull()
      .default(NOTIFICATION_PREFERENCE_DEFAULTS.emailOnStatusChange),
    dailyDigest: boolean('daily_digest').notNull().default(NOTIFICATION_PREFERENCE_DEFAULTS.dailyDigest),
    emailOnUnblocked: boolean('email_on_unblocked')
      .notNull()
      .default(NOTIFICATION_PREFERENCE_DEFAULTS.emailOnUnblocked),
    emailOnMention: boolean('email_on_mention').notNull().default(NOTIFICATION_PREFERENCE_DEFAULTS.emailOnMention),
    emailOnComment: boolean('email_on_comment').notNull().default(NOTIFICATION_PREFERENCE_DEFAULTS.emailOnComment),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.userId] }),
    foreignKey({ columns: [t.companyId, t.userId], foreignColumns: [users.companyId, users.id] }).onDelete('cascade'),
  ],
);

/**
 * One email: recorded as pending in the transaction of the write that causes it, then sent by a
 * job. task_id has no foreign key, so the record of an email outlives its task (a digest has none).
 */
export const notifications = pgTable(
  'notifications',
  {
    companyId: integer('company_id').notNull(),
    id: integer('id').notNull().generatedAlwaysAsIdentity(),
    kind: text('kind', { enum: NOTIFICATION_KINDS }).notNull(),
    taskId: integer('task_id'),
    recipientId: integer('recipient_id').notNull(),
    /** The address it went (or goes) to, kept as it was when sent. */
    recipient: text('recipient').notNull(),
    /** Who made the change; the latest one when changes were folded. */
    actorId: integer('actor_id'),
    subject: text('subject').notNull(),
    status: text('status', { enum: NOTIFICATION_STATUSES }).notNull().default('pending'),
    scheduledFor: timestamp('scheduled_for', { withTimezone: true }).notNull(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
    error: text('error'),
    /** Bumped by each change folded in, so a worker knows whether what it rendered is still current. */
    revision: integer('revision').notNull().default(0),
    /**
     * Set in its own commit just before the SMTP server is given the end of the message, cleared if
     * the server refuses it: a worker that finds it set after a crash knows the email went.
     */
    handedOverAt: timestamp('handed_over_at', { withTimezone: true }),
    /** The SMTP server's answer to the message. */
    serverResponse: text('server_response'),
    /** due_soon: the due date reminded of, so a task is reminded once per due date. */
    dueDate: timestamp('due_date', { withTimezone: true }),
    /** digest: the day it summarises, so a user gets one a day. */
    digestDay: text('digest_day'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.id] }),
    foreignKey({ columns: [t.companyId, t.recipientId], foreignColumns: [users.companyId, users.id] }).onDelete(
      'cascade',
    ),
    check(
      'notifications_kind_check',
      sql`${t.kind} in ('assigned', 'status_changed', 'unblocked', 'due_soon', 'digest', 'mentioned', 'commented')`,
    ),
    check('notifications_status_check', sql`${t.status} in ('pending', 'sent', 'failed')`),
    index('notifications_recipient_idx').on(t.companyId, t.recipientId, t.createdAt, t.id),
    index('notifications_task_idx').on(t.companyId, t.taskId, t.createdAt, t.id),
    // At most one email waiting per task and person: later changes fold into it.
    uniqueIndex('notifications_pending_change_key')
      .on(t.companyId, t.taskId, t.recipientId)
      .where(
        sql`${t.status} = 'pending' and ${t.handedOverAt} is null and ${t.kind} in ('assigned', 'status_changed', 'unblocked')`,
      ),
    // Likewise one email waiting per task and person about its comments: later ones fold into it.
    uniqueIndex('notifications_pending_comment_key')
      .on(t.companyId, t.taskId, t.recipientId)
      .where(sql`${t.status} = 'pending' and ${t.handedOverAt} is null and ${t.kind} in ('mentioned', 'commented')`),
    uniqueIndex('notifications_due_soon_key').on(t.companyId, t.taskId, t.dueDate).where(sql`${t.kind} = 'due_soon'`),
    uniqueIndex('notifications_digest_key')
      .on(t.companyId, t.recipientId, t.digestDay)
      .where(sql`${t.kind} = 'digest'`),
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
  'notification_preferences',
  'notifications',
  'task_stats',
  'task_assignee_counts',
  'task_days',
  'task_state_counts',
  'projects',
  'project_members',
  'statuses',
  'labels',
  'task_labels',
  'task_dependencies',
  'task_open_blockers',
  'comments',
  'task_watchers',
  'inbox_items',
  'attachments',
  'attachment_uploads',
  'attachment_garbage',
  'storage_usage',
] as const;
