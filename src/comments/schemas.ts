import { type Static, Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../platform/pagination.ts';

export const MAX_BODY = 10_000;

const DateTime = Type.String({ format: 'date-time' });

export const CommentAuthor = Type.Object(
  { id: Type.Integer(), username: Type.String(), first_name: Type.String(), last_name: Type.String() },
  { $id: 'CommentAuthor', title: 'CommentAuthor' },
);

export const Comment = Type.Object(
  {
    id: Type.Integer(),
    task: Type.Integer(),
    author: Type.Ref(CommentAuthor),
    body: Type.String({ description: 'Markdown source, as written; render it without raw HTML.' }),
    mentions: Type.Array(Type.Integer(), {
      description: 'The users named as @username (any letter case) who see the task, ascending.',
    }),
    created_at: DateTime,
    updated_at: DateTime,
    edited: Type.Boolean({ description: 'True once its author changed it.' }),
  },
  { $id: 'Comment', title: 'Comment' },
);
export type Comment = Static<typeof Comment>;

export const CommentPage = Page(Type.Ref(Comment), 'CommentPage');
export const CommentListQuery = PageQuery;

export const CommentBody = Type.Object(
  {
    body: Type.String({
      minLength: 1,
      maxLength: MAX_BODY,
      description: `1–${MAX_BODY.toLocaleString('en')} characters of Markdown; @username mentions a user who sees the task.`,
    }),
  },
  { additionalProperties: false },
);
export type CommentBody = Static<typeof CommentBody>;

export const CommentParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
  comment_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
});
