import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TASK_PRIORITIES, TASK_STATUSES } from '../platform/db/schema.ts';
import { Page, PageQuery } from '../platform/pagination.ts';

/**
 * `type: [t, 'null']` rather than a union: a wrong value then gets one message ("A valid integer
 * is required.") instead of one per branch. The route type provider cannot infer it, so handlers
 * take the body as its Static type below.
 */
const nullable = <T extends TSchema>(schema: T) =>
  Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });

export const Status = Type.Union([Type.Literal('todo'), Type.Literal('in_progress'), Type.Literal('done')], {
  description: TASK_STATUSES.join(' | '),
});
export const Priority = Type.Union(
  [Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('urgent')],
  { description: `${TASK_PRIORITIES.join(' < ')}; default medium` },
);

const DATE_OR_DATE_TIME_MESSAGE =
  'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';

/**
 * A date, or a date-time with an optional UTC offset (none means UTC), as DRF accepts. The shape
 * is checked here, the calendar (no 31 February) by parseInstant in the service.
 */
export const Instant = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}([T ]([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d(\\.\\d{1,6})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$',
  'x-error-message': DATE_OR_DATE_TIME_MESSAGE,
});
export const INVALID_INSTANT = DATE_OR_DATE_TIME_MESSAGE;

const UserId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
const DateTime = Type.String({ format: 'date-time' });

export const Task = Type.Object(
  {
    id: Type.Integer(),
    title: Type.String(),
    description: Type.String(),
    status: Status,
    priority: Priority,
    due_date: nullable(DateTime),
    assigned_to: nullable(Type.Integer()),
    created_by: Type.Integer(),
    company: Type.Integer(),
    created_at: DateTime,
    updated_at: DateTime,
    completed_at: nullable(DateTime),
    project: Type.Integer({ description: 'The project the task is in.' }),
    number: Type.Integer({ description: 'Its number in the project, in order of creation, never reused.' }),
    ref: Type.String({ description: '`<project key>-<number>`, e.g. WEB-42.' }),
    state: Type.Integer({
      description: 'Its workflow status (an id of the project’s statuses); status is its category.',
    }),
    labels: Type.Array(Type.Integer(), { description: 'Label ids, ascending.' }),
    parent: nullable(Type.Integer({ description: 'The task this one is a subtask of.' })),
    blocked_by: Type.Array(Type.Integer(), {
      description: 'The tasks this one waits for, ascending: only those the reader sees.',
    }),
    blocking: Type.Array(Type.Integer(), {
      description: 'The tasks waiting for this one, ascending: only those the reader sees.',
    }),
    is_blocked: Type.Boolean({
      description: 'True while any task it waits for (seen by the reader or not) is not in a done state.',
    }),
    subtasks: Type.Object(
      { total: Type.Integer(), done: Type.Integer() },
      { description: 'Its direct subtasks, and how many of them are done.' },
    ),
    comment_count: Type.Integer({ description: 'How many comments it has.' }),
    attachment_count: Type.Integer({ description: 'How many files are attached to it.' }),
    is_watching: Type.Boolean({
      description: 'Whether the caller watches it (false in WebSocket events, which are everyone’s).',
    }),
  },
  { $id: 'Task', title: 'Task' },
);
export type Task = Static<typeof Task>;

export const TaskPage = Page(Type.Ref(Task), 'TaskPage');

const editable = {
  title: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 10_000 }),
  status: Status,
  priority: Priority,
  due_date: nullable(Instant),
  assigned_to: nullable(UserId),
  project: Type.Integer({
    minimum: 1,
    maximum: 2_147_483_647,
    description: 'A project the caller writes in; left out on creation: the default project. A change moves the task.',
  }),
  state: Type.Integer({
    minimum: 1,
    maximum: 2_147_483_647,
    description: 'A status of the task’s project; sets status to its category.',
  }),
  labels: Type.Array(Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), {
    maxItems: 100,
    uniqueItems: true,
    description: 'Label ids of the company; replaces the task’s labels.',
  }),
  parent: nullable(
    Type.Integer({
      minimum: 1,
      maximum: 2_147_483_647,
      description: 'A task the caller sees, not this one nor one of its subtasks; at most 5 levels.',
    }),
  ),
  blocked_by: Type.Array(Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), {
    maxItems: 50,
    uniqueItems: true,
    description:
      'Tasks the caller sees that this one waits for; replaces those the caller sees (links to tasks they do not see stay). No cycles.',
  }),
};

/** created_by and company are the caller's: sent anyway, they are dropped, never used. */
export const TaskBody = Type.Object(
  {
    title: editable.title,
    description: Type.Optional(editable.description),
    status: Type.Optional(editable.status),
    priority: Type.Optional(editable.priority),
    due_date: Type.Optional(editable.due_date),
    assigned_to: Type.Optional(editable.assigned_to),
    project: Type.Optional(editable.project),
    state: Type.Optional(editable.state),
    labels: Type.Optional(editable.labels),
    parent: Type.Optional(editable.parent),
    blocked_by: Type.Optional(editable.blocked_by),
  },
  { additionalProperties: false },
);
export type TaskBody = Static<typeof TaskBody>;

export const TaskPatch = Type.Partial(TaskBody, { additionalProperties: false });
export type TaskPatch = Static<typeof TaskPatch>;

export const ORDER_KEYS = ['created_at', 'updated_at', 'due_date', 'priority'] as const;
export type OrderKey = (typeof ORDER_KEYS)[number];
const ORDER_TERM = `-?(${ORDER_KEYS.join('|')})`;

export const TaskListQuery = Type.Composite([
  PageQuery,
  Type.Object({
    status: Type.Optional(Status),
    priority: Type.Optional(Priority),
    assigned_to: Type.Optional(UserId),
    created_by: Type.Optional(UserId),
    due_before: Type.Optional(Instant),
    due_after: Type.Optional(Instant),
    updated_after: Type.Optional(Instant),
    project: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 2_147_483_647,
        description: 'One project’s tasks (an archived project’s too, which the list leaves out otherwise).',
      }),
    ),
    state: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Tasks in this status.' })),
    labels: Type.Optional(
      Type.String({
        pattern: '^[1-9][0-9]{0,9}(,[1-9][0-9]{0,9}){0,49}$',
        'x-error-message': 'A comma-separated list of label ids.',
        description: 'Comma-separated label ids: tasks with any of them.',
      }),
    ),
    parent: Type.Optional(
      Type.String({
        pattern: '^([1-9][0-9]{0,9}|none)$',
        'x-error-message': 'A task id, or none.',
        description: 'The subtasks of this task, or `none` for top-level tasks.',
      }),
    ),
    is_blocked: Type.Optional(
      Type.Boolean({ description: 'Only blocked tasks (true) or only unblocked ones (false).' }),
    ),
    ref: Type.Optional(
      Type.String({
        maxLength: 30,
        description: 'A task ref, `<project key>-<number>` in any letter case: that task, if the caller sees it.',
      }),
    ),
    search: Type.Optional(
      Type.String({
        maxLength: 500,
        description: 'Full-text search over title (weighted higher) and description, in web-search syntax.',
      }),
    ),
    ordering: Type.Optional(
      Type.String({
        maxLength: 200,
        pattern: `^${ORDER_TERM}(,${ORDER_TERM})*$`,
        'x-error-message': `Invalid ordering. Use ${ORDER_KEYS.join(', ')}, each optionally prefixed with "-" for descending, separated by commas.`,
        description:
          'created_at, updated_at, due_date or priority, "-" first for descending, comma-separated; default -created_at (by relevance when searching).',
      }),
    ),
  }),
]);
export type TaskListQuery = Static<typeof TaskListQuery>;

export const Statistics = Type.Object(
  {
    total: Type.Integer(),
    by_status: Type.Object({ todo: Type.Integer(), in_progress: Type.Integer(), done: Type.Integer() }),
    by_priority: Type.Object({
      low: Type.Integer(),
      medium: Type.Integer(),
      high: Type.Integer(),
      urgent: Type.Integer(),
    }),
    overdue: Type.Integer(),
    completion_rate: Type.Number({ description: 'done / total in percent, one decimal' }),
    avg_completion_hours: nullable(Type.Number()),
    by_assignee: Type.Array(
      Type.Object({ user_id: Type.Integer(), username: Type.String(), total: Type.Integer(), done: Type.Integer() }),
    ),
    unassigned: Type.Integer(),
    by_state: Type.Optional(
      Type.Array(
        Type.Object({
          state: Type.Integer(),
          name: Type.String(),
          category: Status,
          count: Type.Integer(),
        }),
        { description: 'With ?project=: that project’s tasks per status, in status order.' },
      ),
    ),
    created_per_day: Type.Array(Type.Object({ date: Type.String({ format: 'date' }), count: Type.Integer() }), {
      description: 'The last 30 UTC dates, oldest first.',
    }),
  },
  { $id: 'TaskStatistics', title: 'TaskStatistics' },
);
export type Statistics = Static<typeof Statistics>;

export const HistoryEntry = Type.Object(
  {
    id: Type.Integer(),
    task: Type.Integer(),
    actor: Type.Integer(),
    action: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')]),
    changes: Type.Record(Type.String(), Type.Array(Type.Any(), { minItems: 2, maxItems: 2 }), {
      description: '{field: [old, new]}',
    }),
    at: DateTime,
  },
  { $id: 'TaskHistoryEntry', title: 'TaskHistoryEntry' },
);
export type HistoryEntry = Static<typeof HistoryEntry>;

export const HistoryPage = Page(Type.Ref(HistoryEntry), 'TaskHistoryPage');

export const ExternalTask = Type.Object({
  id: Type.String(),
  external_id: Type.Integer(),
  title: Type.String(),
  status: Type.Union([Type.Literal('done'), Type.Literal('todo')]),
  source: Type.Literal('external'),
});

export const LocalTask = Type.Composite([Task, Type.Object({ source: Type.Literal('local') })]);

export const ExternalTasksAnswer = Type.Object(
  {
    results: Type.Array(Type.Union([LocalTask, ExternalTask])),
    local_count: Type.Integer(),
    external_count: Type.Integer(),
    external_error: nullable(Type.String()),
  },
  { $id: 'ExternalTasks', title: 'ExternalTasks' },
);
export type ExternalTasksAnswer = Static<typeof ExternalTasksAnswer>;

export const DeletedQuery = Type.Composite([
  PageQuery,
  Type.Object({ since: { ...Instant, description: 'Ids of tasks deleted after this date or date-time.' } }),
]);
export type DeletedQuery = Static<typeof DeletedQuery>;

export const DeletedTask = Type.Object(
  { id: Type.Integer(), deleted_at: DateTime },
  { $id: 'DeletedTask', title: 'DeletedTask' },
);
export type DeletedTask = Static<typeof DeletedTask>;

export const DeletedPage = Page(Type.Ref(DeletedTask), 'DeletedTaskPage');

export const StatisticsQuery = Type.Object({
  project: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'One project’s statistics, with by_state.' }),
  ),
});
