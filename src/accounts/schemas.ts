import { type Static, Type } from '@sinclair/typebox';
import { Page } from '../platform/pagination.ts';

const Role = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Literal('guest')], {
  description: 'admin | member | guest (sees only the projects they are a member of)',
});

export const Company = Type.Object({ id: Type.Integer(), name: Type.String() }, { $id: 'Company', title: 'Company' });

export const User = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    email: Type.String(),
    first_name: Type.String(),
    last_name: Type.String(),
    role: Role,
    company: Type.Ref(Company),
  },
  { $id: 'User', title: 'User' },
);
export type User = Static<typeof User>;

export const UserPage = Page(Type.Ref(User), 'UserPage');

const Username = Type.String({
  minLength: 1,
  maxLength: 150,
  pattern: '^[\\w.@+-]+$',
  'x-error-message': 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
});
const Email = Type.String({ minLength: 1, maxLength: 254, format: 'email' });
const Name = Type.String({ maxLength: 150 });

export const RegisterBody = Type.Object(
  {
    username: Username,
    email: Email,
    password: Type.String({ minLength: 1, maxLength: 128 }),
    password_confirm: Type.String({ minLength: 1, maxLength: 128 }),
    first_name: Type.Optional(Name),
    last_name: Type.Optional(Name),
    company_name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Creates a company whose admin the new user becomes.' }),
    ),
    invitation_token: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Joins the company that sent this invitation.' }),
    ),
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

export const TokenPair = Type.Object(
  { access: Type.String(), refresh: Type.String() },
  { $id: 'TokenPair', title: 'TokenPair' },
);

export const RegisterResponse = Type.Object({ user: Type.Ref(User), access: Type.String(), refresh: Type.String() });

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 254, description: 'A username or an email address.' }),
    password: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const RefreshBody = Type.Object(
  { refresh: Type.String({ minLength: 1, maxLength: 2048 }) },
  { additionalProperties: false },
);
export type RefreshBody = Static<typeof RefreshBody>;

export const ProfilePatch = Type.Object(
  { first_name: Type.Optional(Name), last_name: Type.Optional(Name), email: Type.Optional(Email) },
  { additionalProperties: false },
);
export type ProfilePatch = Static<typeof ProfilePatch>;

export const InvitationBody = Type.Object({ email: Email, role: Type.Optional(Role) }, { additionalProperties: false });
export type InvitationBody = Static<typeof InvitationBody>;

export const Invitation = Type.Object(
  {
    id: Type.Integer(),
    email: Type.String(),
    role: Role,
    expires_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Invitation', title: 'Invitation' },
);

export const CreatedInvitation = Type.Object(
  {
    id: Type.Integer(),
    email: Type.String(),
    role: Role,
    token: Type.String({ description: 'Shown once: the invitee registers with it as invitation_token.' }),
    expires_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'CreatedInvitation', title: 'CreatedInvitation' },
);

export const InvitationPage = Page(Type.Ref(Invitation), 'InvitationPage');

/** What an invitation's link shows before sign-up: who invites, and the address it was sent to. */
export const InvitationPreview = Type.Object(
  { company: Type.Object({ name: Type.String() }), email: Type.String(), role: Role },
  { $id: 'InvitationPreview', title: 'InvitationPreview' },
);
export type InvitationPreview = Static<typeof InvitationPreview>;

export const InvitationTokenQuery = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });

export const RoleBody = Type.Object({ role: Role }, { additionalProperties: false });
export type RoleBody = Static<typeof RoleBody>;
