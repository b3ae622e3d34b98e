import { type Static, Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../platform/pagination.ts';

const ProjectRole = Type.Union([Type.Literal('manager'), Type.Literal('member'), Type.Literal('viewer')], {
  description: 'manager | member | viewer',
});
export type ProjectRoleName = Static<typeof ProjectRole>;

export const Project = Type.Object(
  {
    id: Type.Integer(),
    key: Type.String({ description: 'Prefix of the project’s task refs (`<key>-<number>`), upper-case.' }),
    name: Type.String(),
    description: Type.String(),
    is_private: Type.Boolean(),
    is_default: Type.Boolean(),
    archived: Type.Boolean(),
    created_by: Type.Union([Type.Integer(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    my_role: ProjectRole,
  },
  { $id: 'Project', title: 'Project' },
);
export type Project = Static<typeof Project>;

export const ProjectPage = Page(Type.Ref(Project), 'ProjectPage');

const Name = Type.String({ minLength: 1, maxLength: 100 });
const Key = Type.String({
  pattern: '^[A-Za-z][A-Za-z0-9]{1,9}$',
  description: '2–10 letters and digits, starting with a letter; stored upper-case.',
});
const Description = Type.String({ maxLength: 10_000 });

export const ProjectBody = Type.Object(
  {
    name: Name,
    key: Type.Optional(Key),
    description: Type.Optional(Description),
    is_private: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ProjectBody = Static<typeof ProjectBody>;

export const ProjectPatch = Type.Object(
  {
    name: Type.Optional(Name),
    key: Type.Optional(Key),
    description: Type.Optional(Description),
    is_private: Type.Optional(Type.Boolean()),
    archived: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ProjectPatch = Static<typeof ProjectPatch>;

export const ProjectListQuery = Type.Composite([
  PageQuery,
  Type.Object({
    archived: Type.Optional(
      Type.Union([Type.Literal('true'), Type.Literal('false')], {
        description: 'true: the archived projects instead.',
      }),
    ),
  }),
]);
export type ProjectListQuery = Static<typeof ProjectListQuery>;

export const Member = Type.Object(
  {
    user: Type.Object({
      id: Type.Integer(),
      username: Type.String(),
      first_name: Type.String(),
      last_name: Type.String(),
    }),
    role: ProjectRole,
  },
  { $id: 'ProjectMember', title: 'ProjectMember' },
);
export type Member = Static<typeof Member>;
export const MemberPage = Page(Type.Ref(Member), 'ProjectMemberPage');

export const MemberBody = Type.Object({ role: ProjectRole }, { additionalProperties: false });

export const MemberParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
  user_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
});

const Category = Type.Union([Type.Literal('todo'), Type.Literal('in_progress'), Type.Literal('done')], {
  description: 'todo | in_progress | done: the version 1 status of the tasks in it',
});
export const Color = Type.String({ pattern: '^#[0-9a-fA-F]{6}$', 'x-error-message': 'Enter a colour as #rrggbb.' });

export const WorkflowStatus = Type.Object(
  {
    id: Type.Integer(),
    project: Type.Integer(),
    name: Type.String(),
    category: Category,
    position: Type.Integer(),
    color: Type.String(),
  },
  { $id: 'WorkflowStatus', title: 'WorkflowStatus' },
);
export type WorkflowStatus = Static<typeof WorkflowStatus>;

const StatusName = Type.String({ minLength: 1, maxLength: 50 });
const Position = Type.Integer({
  minimum: 0,
  maximum: 1000,
  description: 'Where it goes; the others are renumbered 0..n−1.',
});

export const StatusBody = Type.Object(
  { name: StatusName, category: Category, color: Type.Optional(Color), position: Type.Optional(Position) },
  { additionalProperties: false },
);
export type StatusBody = Static<typeof StatusBody>;

export const StatusPatch = Type.Object(
  {
    name: Type.Optional(StatusName),
    category: Type.Optional(Category),
    color: Type.Optional(Color),
    position: Type.Optional(Position),
  },
  { additionalProperties: false },
);
export type StatusPatch = Static<typeof StatusPatch>;

export const StatusParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
  status_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
});

export const StatusDeleteQuery = Type.Object({
  move_to: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'The status its tasks move to.' }),
  ),
});
