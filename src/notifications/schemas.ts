import { type Static, Type } from '@sinclair/typebox';
import { NOTIFICATION_KINDS, NOTIFICATION_STATUSES } from '../platform/db/schema.ts';
import { Page, PageQuery } from '../platform/pagination.ts';

const DateTime = Type.String({ format: 'date-time' });
const OrNull = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const NotificationStatus = Type.Union(
  NOTIFICATION_STATUSES.map((s) => Type.Literal(s)),
  { description: NOTIFICATION_STATUSES.join(' | ') },
);

export const Notification = Type.Object(
  {
    id: Type.Integer(),
    task: OrNull(Type.Integer()),
    recipient: Type.String({ description: 'The email address it goes (or went) to.' }),
    subject: Type.String(),
    status: NotificationStatus,
    scheduled_for: DateTime,
    sent_at: OrNull(DateTime),
    attempts: Type.Integer(),
    error: OrNull(Type.String()),
    kind: Type.Union(
      NOTIFICATION_KINDS.map((k) => Type.Literal(k)),
      { description: NOTIFICATION_KINDS.join(' | ') },
    ),
  },
  { $id: 'Notification', title: 'Notification' },
);
export type Notification = Static<typeof Notification>;

export const NotificationPage = Page(Type.Ref(Notification), 'NotificationPage');

export const NotificationListQuery = Type.Intersect([
  PageQuery,
  Type.Object({
    status: Type.Optional(NotificationStatus),
    task: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  }),
]);
export type NotificationListQuery = Static<typeof NotificationListQuery>;

export const Preferences = Type.Object(
  {
    email_on_assignment: Type.Boolean({ description: 'Email me when a task is assigned to me, and before it is due.' }),
    email_on_status_change: Type.Boolean({
      description: 'Email me when the status of a task I created or am assigned changes.',
    }),
    daily_digest: Type.Boolean({ description: 'Email me my open and overdue tasks every day at 08:00 UTC.' }),
    email_on_unblocked: Type.Boolean({
      description: 'Email me when the last task that a task assigned to me waits for is done or deleted.',
    }),
    email_on_mention: Type.Boolean({ description: 'Email me when someone mentions me in a comment (@username).' }),
    email_on_comment: Type.Boolean({ description: 'Email me when someone comments on a task I watch.' }),
  },
  { $id: 'NotificationPreferences', title: 'NotificationPreferences', additionalProperties: false },
);
export type Preferences = Static<typeof Preferences>;

/** PATCH: any of them; the others keep their value. */
export const PreferencesBody = Type.Partial(Preferences, { additionalProperties: false });
export type PreferencesBody = Static<typeof PreferencesBody>;

/** PUT: version 1's three are required, as they were; the later ones optional, kept when left out. */
export const PreferencesPut = Type.Composite(
  [
    Type.Pick(Preferences, ['email_on_assignment', 'email_on_status_change', 'daily_digest']),
    Type.Partial(Type.Pick(Preferences, ['email_on_unblocked', 'email_on_mention', 'email_on_comment'])),
  ],
  { additionalProperties: false },
);
