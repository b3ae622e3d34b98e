import { type Static, Type } from '@sinclair/typebox';
import { INBOX_KINDS } from '../platform/db/schema.ts';
import { Page, PageQuery } from '../platform/pagination.ts';

const DateTime = Type.String({ format: 'date-time' });

export const InboxItem = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.Union(
      INBOX_KINDS.map((k) => Type.Literal(k)),
      { description: INBOX_KINDS.join(' | ') },
    ),
    task: Type.Object({ id: Type.Integer(), ref: Type.String(), title: Type.String() }),
    actor: Type.Union([Type.Object({ id: Type.Integer(), username: Type.String() }), Type.Null()], {
      description: 'Who caused it; null for a due-date reminder.',
    }),
    created_at: DateTime,
    read_at: Type.Union([DateTime, Type.Null()]),
  },
  { $id: 'InboxItem', title: 'InboxItem' },
);
export type InboxItem = Static<typeof InboxItem>;

export const InboxPage = Page(Type.Ref(InboxItem), 'InboxPage');

export const InboxListQuery = Type.Intersect([
  PageQuery,
  Type.Object({
    unread: Type.Optional(Type.Boolean({ description: 'true: only the items not read yet.' })),
  }),
]);
export type InboxListQuery = Static<typeof InboxListQuery>;

export const UnreadCount = Type.Object(
  { count: Type.Integer() },
  { $id: 'InboxUnreadCount', title: 'InboxUnreadCount' },
);
