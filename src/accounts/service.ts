import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Auth, type TokenService, tokenNotValid } from '../platform/auth.ts';
import { pgErrorInfo, UNIQUE_VIOLATION } from '../platform/db/errors.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import type { UserRole } from '../platform/db/schema.ts';
import { type FieldErrors, HttpError, invalid, notFound, permissionDenied } from '../platform/errors.ts';
import type { PageRequest } from '../platform/pagination.ts';
import { hashPassword, passwordProblems, verifyPassword } from './passwords.ts';
import * as q from './queries.ts';
import type { InvitationBody, InvitationPreview, LoginBody, ProfilePatch, RegisterBody, User } from './schemas.ts';

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const TAKEN_MESSAGES: Record<string, [field: string, message: string]> = {
  users_username_lower_key: ['username', 'A user with that username already exists.'],
  users_email_lower_key: ['email', 'A user with that email already exists.'],
  companies_name_lower_key: ['company_name', 'A company with that name already exists.'],
};

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function toUser(row: q.UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    first_name: row.firstName,
    last_name: row.lastName,
    role: row.role,
    company: { id: row.companyId, name: row.companyName },
  };
}

const noActiveAccount = () => new HttpError(401, { detail: 'No active account found with the given credentials' });

/**
 * The caller as the database knows them now. Every method acting for a user starts here, so a
 * deactivated user's still-valid token opens nothing.
 */
export async function requireActor(tx: Tx, auth: Auth): Promise<q.UserRow> {
  const actor = await q.findUser(tx, auth.companyId, auth.userId);
  checkActor(actor?.isActive);
  return actor as q.UserRow;
}

/**
 * The caller's account must exist and be active, as read by whatever query fetched it: undefined
 * or null is no such user, false inactive. For paths that read the caller's row in the same
 * statement as their data.
 */
export function checkActor(active: boolean | null | undefined): asserts active is true {
  if (active === undefined || active === null) {
    throw new HttpError(401, { detail: 'User not found', code: 'user_not_found' });
  }
  if (!active) throw new HttpError(401, { detail: 'User is inactive', code: 'user_inactive' });
}

/** Users of the company by id, for features that show people (a project's members). */
export async function usersByIds(tx: Tx, companyId: number, ids: number[]): Promise<Map<number, q.UserRow>> {
  return new Map((await q.findUsers(tx, companyId, ids)).map((row) => [row.id, row]));
}

/** The active users named by these usernames in any letter case, for features that resolve names (mentions). */
export const activeUsersNamed = (tx: Tx, companyId: number, names: string[]) =>
  q.findActiveUsersNamed(
    tx,
    companyId,
    names.map((n) => n.toLowerCase()),
  );

export async function requireAdmin(tx: Tx, auth: Auth): Promise<q.UserRow> {
  const actor = await requireActor(tx, auth);
  if (actor.role !== 'admin') throw permissionDenied('Only company admins can do this.');
  return actor;
}

/** Turns a lost race on a unique index into the 400 the pre-check would have given. */
function rethrowTaken(error: unknown): never {
  const info = pgErrorInfo(error);
  const taken =
    info?.code === UNIQUE_VIOLATION && info.constraint !== undefined ? TAKEN_MESSAGES[info.constraint] : undefined;
  if (taken !== undefined) throw invalid({ [taken[0]]: [taken[1]] });
  throw error;
}

export interface TokenPair {
  access: string;
  refresh: string;
}

/** What the rest of the service hears about accounts, after the change has committed. */
export interface AccountEvents {
  userRemoved(companyId: number, userId: number): Promise<void>;
  /** A user's company role changed, and with it which projects they see. */
  roleChanged(companyId: number, userId: number): Promise<void>;
}

export class AccountsService {
  constructor(
    private readonly db: Database,
    private readonly tokens: TokenService,
    private readonly events: AccountEvents = { userRemoved: async () => {}, roleChanged: async () => {} },
  ) {}

  private async issueTokens(tx: Tx, auth: Auth, familyId: string = randomUUID()): Promise<TokenPair> {
    const refresh = await this.tokens.signRefresh(auth, familyId);
    await q.insertRefreshToken(tx, {
      companyId: auth.companyId,
      userId: auth.userId,
      familyId,
      tokenHash: sha256(refresh.token),
      expiresAt: refresh.expiresAt,
    });
    return { access: await this.tokens.signAccess(auth), refresh: refresh.token };
  }

  async register(body: RegisterBody): Promise<{ user: User } & TokenPair> {
    return this.createAccount(body, (tx, auth) => this.issueTokens(tx, auth));
  }

  /**
   * A new user: the admin of a new company, or a member through an invitation. `then` runs in the
   * same transaction (registration issues tokens there; the CLI needs none).
   */
  async createAccount<T extends object>(
    body: RegisterBody,
    then: (tx: Tx, auth: Auth) => Promise<T>,
  ): Promise<{ user: User } & T> {
    const errors: FieldErrors = {};
    const add = (field: string, message: string) => {
      errors[field] = [...(errors[field] ?? []), message];
    };
    if (body.password !== body.password_confirm) add('password_confirm', "Password fields didn't match.");
    const owner = { username: body.username, email: body.email, firstName: body.first_name, lastName: body.last_name };
    for (const problem of passwordProblems(body.password, owner)) add('password', problem);
    const hasCompany = body.company_name !== undefined && body.company_name.trim() !== '';
    const hasInvitation = body.invitation_token !== undefined;
    if (hasCompany === hasInvitation) {
      add('non_field_errors', 'Provide either company_name (to create a company) or invitation_token (to join one).');
    }
    if (Object.keys(errors).length > 0) throw invalid(errors);

    const passwordHash = await hashPassword(body.password);
    try {
      return await this.db.unsafeSystem(async (tx) => {
        await q.unsafeLockIdentifiers(tx, body.username, body.email);
        const taken = await q.unsafeTakenIdentity(tx, body);
        if (taken.username) add('username', 'A user with that username already exists.');
        if (taken.email) add('email', 'A user with that email already exists.');

        let companyId: number;
        let role: UserRole = 'admin';
        let invitationId: number | undefined;
        if (hasCompany) {
          const name = (body.company_name as string).trim();
          if (await q.unsafeCompanyNameTaken(tx, name)) add('company_name', 'A company with that name already exists.');
          if (Object.keys(errors).length > 0) throw invalid(errors);
          companyId = (await q.insertCompany(tx, name)).id;
        } else {
          const invitation = await q.unsafeFindInvitation(tx, sha256(body.invitation_token as string));
          if (invitation === undefined || !invitation.inviterIsAdmin) {
            add('invitation_token', 'This invitation is not valid.');
          } else if (invitation.acceptedAt !== null) add('invitation_token', 'This invitation has already been used.');
          else if (invitation.expiresAt.getTime() <= Date.now())
            add('invitation_token', 'This invitation has expired.');
          else if (invitation.email.toLowerCase() !== body.email.toLowerCase()) {
            add('email', 'This invitation was sent to another email address.');
          }
          if (Object.keys(errors).length > 0 || invitation === undefined) throw invalid(errors);
          companyId = invitation.companyId;
          role = invitation.role;
          invitationId = invitation.id;
        }

        const userId = await q.insertUser(tx, {
          companyId,
          username: body.username,
          email: body.email,
          passwordHash,
          firstName: body.first_name ?? '',
          lastName: body.last_name ?? '',
          role,
        });
        if (invitationId !== undefined && !(await q.acceptInvitation(tx, companyId, invitationId, userId))) {
          throw invalid({ invitation_token: ['This invitation has already been used.'] });
        }
        const extra = await then(tx, { userId, companyId });
        const user = await q.findUser(tx, companyId, userId);
        if (user === undefined) throw new Error('registered user not found');
        return { user: toUser(user), ...extra };
      });
    } catch (error) {
      rethrowTaken(error);
    }
  }

  async login(body: LoginBody): Promise<TokenPair> {
    const found = await this.db.unsafeSystem((tx) => q.unsafeFindUserForLogin(tx, body.username));
    // The hash is checked outside any transaction: it takes milliseconds, for which one would hold a pooled connection.
    const ok = await verifyPassword(found?.passwordHash, body.password);
    if (found === undefined || !ok || !found.isActive) throw noActiveAccount();
    return this.db.tenant(found.companyId, (tx) =>
      this.issueTokens(tx, { userId: found.id, companyId: found.companyId }),
    );
  }

  /** Rotation with reuse detection: a spent token coming back means it was stolen, so its family dies. */
  async refresh(token: string): Promise<TokenPair> {
    const claims = await this.tokens.verify(token, 'refresh');
    const tokenHash = sha256(token);
    const outcome = await this.db.tenant(claims.companyId, async (tx) => {
      const spent = await q.spendRefreshToken(tx, claims.companyId, tokenHash);
      if (spent === undefined) {
        const known = await q.findRefreshToken(tx, claims.companyId, tokenHash);
        if (known !== undefined && known.usedAt !== null && known.revokedAt === null) {
          await q.revokeFamily(tx, claims.companyId, known.familyId);
          return { error: 'Token has already been used; every session of this login is now signed out' } as const;
        }
        return { error: known?.revokedAt != null ? 'Token is blacklisted' : 'Token is invalid or expired' } as const;
      }
      const user = await q.findUser(tx, claims.companyId, spent.userId);
      if (user === undefined || !user.isActive) {
        await q.revokeFamily(tx, claims.companyId, spent.familyId);
        return { error: 'User is inactive' } as const;
      }
      return {
        tokens: await this.issueTokens(tx, { userId: spent.userId, companyId: claims.companyId }, spent.familyId),
      };
    });
    // Thrown after the commit, so a revoked family stays revoked.
    if ('error' in outcome) throw tokenNotValid(outcome.error);
    return outcome.tokens;
  }

  async logout(token: string): Promise<void> {
    const claims = await this.tokens.verify(token, 'refresh');
    await this.db.tenant(claims.companyId, async (tx) => {
      const known = await q.findRefreshToken(tx, claims.companyId, sha256(token));
      if (known === undefined) throw tokenNotValid();
      await q.revokeFamily(tx, claims.companyId, known.familyId);
    });
  }

  profile(auth: Auth): Promise<User> {
    return this.db.tenant(auth.companyId, async (tx) => toUser(await requireActor(tx, auth)));
  }

  async updateProfile(auth: Auth, patch: ProfilePatch): Promise<User> {
    // A new email must be no one's username or email in any company, which only the system role sees.
    const transact = <T>(fn: (tx: Tx) => Promise<T>) =>
      patch.email === undefined ? this.db.tenant(auth.companyId, fn) : this.db.unsafeSystem(fn);
    try {
      return await transact(async (tx) => {
        await requireActor(tx, auth);
        if (patch.email !== undefined) {
          await q.unsafeLockIdentifiers(tx, patch.email);
          if ((await q.unsafeTakenIdentity(tx, { email: patch.email }, auth)).email) {
            throw invalid({ email: ['A user with that email already exists.'] });
          }
        }
        await q.updateUser(tx, auth.companyId, auth.userId, {
          firstName: patch.first_name,
          lastName: patch.last_name,
          email: patch.email,
        });
        return toUser(await requireActor(tx, auth));
      });
    } catch (error) {
      rethrowTaken(error);
    }
  }

  companyUsers(auth: Auth, page: PageRequest): Promise<{ count: number; users: User[] }> {
    return this.db.tenant(auth.companyId, async (tx) => {
      const actor = await requireActor(tx, auth);
      // A guest (a client, say) is shown the projects they are in, not who works for the company.
      if (actor.role === 'guest') throw permissionDenied('Guests cannot list the company’s users.');
      const total = await q.countActiveUsers(tx, auth.companyId);
      const rows = await q.listActiveUsers(tx, auth.companyId, page.size, page.offset);
      return { count: total, users: rows.map(toUser) };
    });
  }

  createInvitation(auth: Auth, body: InvitationBody) {
    return this.db.tenant(auth.companyId, async (tx) => {
      const admin = await requireAdmin(tx, auth);
      if (await q.emailTakenInCompany(tx, auth.companyId, body.email)) {
        throw invalid({ email: ['This person is already a member of your company.'] });
      }
      const token = randomBytes(32).toString('base64url');
      const row = await q.insertInvitation(tx, {
        companyId: auth.companyId,
        email: body.email,
        role: body.role ?? 'member',
        tokenHash: sha256(token),
        invitedBy: admin.id,
        expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
      });
      return { id: row.id, email: row.email, role: row.role, token, expires_at: row.expiresAt };
    });
  }

  /**
   * What the invitation's page shows before sign-up. Anyone holding the link may read it, as they may
   * register with it; an invitation that cannot be used any more is not found, whatever the reason.
   */
  async invitationByToken(token: string): Promise<InvitationPreview> {
    const row = await this.db.unsafeSystem((tx) => q.unsafeFindPendingInvitation(tx, sha256(token)));
    if (row === undefined) throw notFound();
    return { company: { name: row.companyName }, email: row.email, role: row.role };
  }

  pendingInvitations(auth: Auth, page: PageRequest) {
    return this.db.tenant(auth.companyId, async (tx) => {
      await requireAdmin(tx, auth);
      const total = await q.countPendingInvitations(tx, auth.companyId);
      const rows = await q.listPendingInvitations(tx, auth.companyId, page.size, page.offset);
      return {
        count: total,
        invitations: rows.map((r) => ({ id: r.id, email: r.email, role: r.role, expires_at: r.expiresAt })),
      };
    });
  }

  revokeInvitation(auth: Auth, id: number): Promise<void> {
    return this.db.tenant(auth.companyId, async (tx) => {
      await requireAdmin(tx, auth);
      if (!(await q.deletePendingInvitation(tx, auth.companyId, id))) throw notFound();
    });
  }

  /** An admin changes a colleague's role; the company always keeps at least one admin. */
  async changeRole(auth: Auth, userId: number, role: UserRole): Promise<User> {
    const user = await this.db.tenant(auth.companyId, async (tx) => {
      // Locked first, so that what follows reads the admins as a concurrent change left them.
      const admins = await q.lockActiveAdmins(tx, auth.companyId);
      await requireAdmin(tx, auth);
      const target = await q.findUser(tx, auth.companyId, userId);
      if (target === undefined || !target.isActive) throw notFound();
      if (target.role === 'admin' && role !== 'admin') {
        if (admins.length <= 1) throw invalid({ role: ['The company must keep at least one admin.'] });
        await q.deletePendingInvitationsBy(tx, auth.companyId, userId);
      }
      await q.setRole(tx, auth.companyId, userId, role);
      return toUser({ ...target, role });
    });
    await this.events.roleChanged(auth.companyId, userId);
    return user;
  }

  /** An admin removes someone from the company: their sessions end and their sockets close at once. */
  async removeUser(auth: Auth, userId: number): Promise<void> {
    await this.db.tenant(auth.companyId, async (tx) => {
      const admins = await q.lockActiveAdmins(tx, auth.companyId);
      await requireAdmin(tx, auth);
      const target = await q.findUser(tx, auth.companyId, userId);
      if (target === undefined || !target.isActive) throw notFound();
      if (target.id === auth.userId) throw invalid({ non_field_errors: ['You cannot remove yourself.'] });
      if (target.role === 'admin' && admins.length <= 1) {
        throw invalid({ non_field_errors: ['The company must keep at least one admin.'] });
      }
      await q.deactivateUser(tx, auth.companyId, userId);
      await q.deletePendingInvitationsBy(tx, auth.companyId, userId);
    });
    await this.events.userRemoved(auth.companyId, userId);
  }
}
