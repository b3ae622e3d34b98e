import { and, asc, count, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import type { Tx } from '../platform/db/index.ts';
import { companies, invitations, refreshTokens, type UserRole, users } from '../platform/db/schema.ts';

const userColumns = {
  id: users.id,
  companyId: users.companyId,
  username: users.username,
  email: users.email,
  firstName: users.firstName,
  lastName: users.lastName,
  role: users.role,
  isActive: users.isActive,
  companyName: companies.name,
};

export type UserRow = {
  id: number;
  companyId: number;
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  role: UserRole;
  isActive: boolean;
  companyName: string;
};

export async function findUser(tx: Tx, companyId: number, userId: number): Promise<UserRow | undefined> {
  const [row] = await tx
    .select(userColumns)
    .from(users)
    .innerJoin(companies, eq(companies.id, users.companyId))
    .where(and(eq(users.companyId, companyId), eq(users.id, userId)));
  return row;
}

export function findUsers(tx: Tx, companyId: number, ids: number[]): Promise<UserRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return tx
    .select(userColumns)
    .from(users)
    .innerJoin(companies, eq(companies.id, users.companyId))
    .where(and(eq(users.companyId, companyId), inArray(users.id, ids)));
}

/** The active users of the company with these usernames, compared in lower case (`names` lower-cased). */
export function findActiveUsersNamed(tx: Tx, companyId: number, names: string[]): Promise<UserRow[]> {
  if (names.length === 0) return Promise.resolve([]);
  return tx
    .select(userColumns)
    .from(users)
    .innerJoin(companies, eq(companies.id, users.companyId))
    .where(
      and(
        eq(users.companyId, companyId),
        eq(users.isActive, true),
        sql`lower(${users.username}) = any(${sql.param(names)}::text[])`,
      ),
    );
}

export async function countActiveUsers(tx: Tx, companyId: number): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(users)
    .where(and(eq(users.companyId, companyId), eq(users.isActive, true)));
  return row?.n ?? 0;
}

export function listActiveUsers(tx: Tx, companyId: number, limit: number, offset: number): Promise<UserRow[]> {
  return tx
    .select(userColumns)
    .from(users)
    .innerJoin(companies, eq(companies.id, users.companyId))
    .where(and(eq(users.companyId, companyId), eq(users.isActive, true)))
    .orderBy(asc(users.id))
    .limit(limit)
    .offset(offset);
}

export async function updateUser(
  tx: Tx,
  companyId: number,
  userId: number,
  changes: Partial<{ firstName: string; lastName: string; email: string }>,
): Promise<void> {
  await tx
    .update(users)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(users.companyId, companyId), eq(users.id, userId)));
}

export async function emailTakenInCompany(tx: Tx, companyId: number, email: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.companyId, companyId), sql`lower(${users.email}) = lower(${email})`))
    .limit(1);
  return row !== undefined;
}

/**
 * Across companies: a login names a person before any company is known. No identifier can be two
 * people's (see unsafeTakenIdentity), but rows from before that rule may still collide: a username
 * wins over an email, then the oldest account, so the same login always finds the same person.
 */
export async function unsafeFindUserForLogin(
  tx: Tx,
  login: string,
): Promise<{ id: number; companyId: number; passwordHash: string; isActive: boolean } | undefined> {
  const [row] = await tx
    .select({ id: users.id, companyId: users.companyId, passwordHash: users.passwordHash, isActive: users.isActive })
    .from(users)
    .where(or(sql`lower(${users.username}) = lower(${login})`, sql`lower(${users.email}) = lower(${login})`))
    .orderBy(sql`lower(${users.username}) = lower(${login}) desc`, asc(users.id))
    .limit(1);
  return row;
}

/**
 * Registrations and email changes naming the same identifier wait for each other until the first
 * commits, so the check that follows sees it; taken in one order, so two never wait for each other.
 */
export async function unsafeLockIdentifiers(tx: Tx, ...identifiers: string[]): Promise<void> {
  const keys = [...new Set(identifiers.map((identifier) => identifier.toLowerCase()))].sort();
  for (const key of keys) await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`users identifier ${key}`}))`);
}

/**
 * Across companies: a username or email is taken when it is, in any letter case, another user's
 * username or email, since logging in by either finds the person. Call under unsafeLockIdentifiers.
 */
export async function unsafeTakenIdentity(
  tx: Tx,
  identity: { username?: string; email?: string },
  exceptUserId?: { companyId: number; userId: number },
) {
  const names = [identity.username, identity.email].filter((value): value is string => value !== undefined);
  const lowered = sql.join(
    names.map((name) => sql`lower(${name})`),
    sql`, `,
  );
  const others =
    exceptUserId === undefined
      ? sql`true`
      : sql`not (${users.companyId} = ${exceptUserId.companyId} and ${users.id} = ${exceptUserId.userId})`;
  const rows = await tx
    .select({ username: sql<string>`lower(${users.username})`, email: sql<string>`lower(${users.email})` })
    .from(users)
    .where(and(or(sql`lower(${users.username}) in (${lowered})`, sql`lower(${users.email}) in (${lowered})`), others));
  const taken = (value: string | undefined) =>
    value !== undefined &&
    rows.some((row) => row.username === value.toLowerCase() || row.email === value.toLowerCase());
  return { username: taken(identity.username), email: taken(identity.email) };
}

export async function unsafeCompanyNameTaken(tx: Tx, name: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: companies.id })
    .from(companies)
    .where(sql`lower(${companies.name}) = lower(${name})`)
    .limit(1);
  return row !== undefined;
}

export async function insertCompany(tx: Tx, name: string): Promise<{ id: number; name: string }> {
  const [row] = await tx.insert(companies).values({ name }).returning({ id: companies.id, name: companies.name });
  if (row === undefined) throw new Error('insert into companies returned nothing');
  return row;
}

export async function insertUser(
  tx: Tx,
  values: {
    companyId: number;
    username: string;
    email: string;
    passwordHash: string;
    firstName: string;
    lastName: string;
    role: UserRole;
  },
): Promise<number> {
  const [row] = await tx.insert(users).values(values).returning({ id: users.id });
  if (row === undefined) throw new Error('insert into users returned nothing');
  return row.id;
}

export async function insertRefreshToken(
  tx: Tx,
  values: { companyId: number; userId: number; familyId: string; tokenHash: string; expiresAt: Date },
): Promise<void> {
  await tx.insert(refreshTokens).values(values);
}

/**
 * Spends a refresh token: only one caller can ever succeed for a given token, however many race.
 * Returns undefined when the token is unknown, spent, revoked or expired.
 */
export async function spendRefreshToken(tx: Tx, companyId: number, tokenHash: string) {
  const [row] = await tx
    .update(refreshTokens)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(refreshTokens.companyId, companyId),
        eq(refreshTokens.tokenHash, tokenHash),
        isNull(refreshTokens.usedAt),
        isNull(refreshTokens.revokedAt),
        gt(refreshTokens.expiresAt, sql`now()`),
      ),
    )
    .returning({ userId: refreshTokens.userId, familyId: refreshTokens.familyId });
  return row;
}

export async function findRefreshToken(tx: Tx, companyId: number, tokenHash: string) {
  const [row] = await tx
    .select({ familyId: refreshTokens.familyId, usedAt: refreshTokens.usedAt, revokedAt: refreshTokens.revokedAt })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.companyId, companyId), eq(refreshTokens.tokenHash, tokenHash)));
  return row;
}

export async function revokeFamily(tx: Tx, companyId: number, familyId: string): Promise<void> {
  await tx
    .update(refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        eq(refreshTokens.companyId, companyId),
        eq(refreshTokens.familyId, familyId),
        isNull(refreshTokens.revokedAt),
      ),
    );
}

export async function insertInvitation(
  tx: Tx,
  values: { companyId: number; email: string; role: UserRole; tokenHash: string; invitedBy: number; expiresAt: Date },
) {
  const [row] = await tx.insert(invitations).values(values).returning({
    id: invitations.id,
    email: invitations.email,
    role: invitations.role,
    expiresAt: invitations.expiresAt,
  });
  if (row === undefined) throw new Error('insert into invitations returned nothing');
  return row;
}

const pendingInvitation = (companyId: number) =>
  and(eq(invitations.companyId, companyId), isNull(invitations.acceptedAt), gt(invitations.expiresAt, sql`now()`));

export async function countPendingInvitations(tx: Tx, companyId: number): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(invitations).where(pendingInvitation(companyId));
  return row?.n ?? 0;
}

export function listPendingInvitations(tx: Tx, companyId: number, limit: number, offset: number) {
  return tx
    .select({ id: invitations.id, email: invitations.email, role: invitations.role, expiresAt: invitations.expiresAt })
    .from(invitations)
    .where(pendingInvitation(companyId))
    .orderBy(asc(invitations.id))
    .limit(limit)
    .offset(offset);
}

export async function deletePendingInvitation(tx: Tx, companyId: number, id: number): Promise<boolean> {
  const rows = await tx
    .delete(invitations)
    .where(and(eq(invitations.id, id), pendingInvitation(companyId)))
    .returning({ id: invitations.id });
  return rows.length > 0;
}

/**
 * An invitation speaks for its admin only while they are one (revoked on removal or demotion; this
 * also covers those sent before that rule).
 */
const INVITER_IS_ADMIN = sql<boolean>`exists (select 1 from ${users} where ${users.companyId} = ${invitations.companyId}
  and ${users.id} = ${invitations.invitedBy} and ${users.isActive} and ${users.role} = 'admin')`;

/** Across companies: the invitee has no company yet; the token is all they hold. */
export async function unsafeFindInvitation(tx: Tx, tokenHash: string) {
  const [row] = await tx
    .select({
      id: invitations.id,
      companyId: invitations.companyId,
      email: invitations.email,
      role: invitations.role,
      expiresAt: invitations.expiresAt,
      acceptedAt: invitations.acceptedAt,
      inviterIsAdmin: INVITER_IS_ADMIN,
    })
    .from(invitations)
    .where(eq(invitations.tokenHash, tokenHash));
  return row;
}

/** A usable invitation (neither used nor expired, its sender still an admin) by its token's hash, with the inviting company's name. */
export async function unsafeFindPendingInvitation(tx: Tx, tokenHash: string) {
  const [row] = await tx
    .select({ email: invitations.email, role: invitations.role, companyName: companies.name })
    .from(invitations)
    .innerJoin(companies, eq(companies.id, invitations.companyId))
    .where(
      and(
        eq(invitations.tokenHash, tokenHash),
        isNull(invitations.acceptedAt),
        gt(invitations.expiresAt, sql`now()`),
        INVITER_IS_ADMIN,
      ),
    );
  return row;
}

/** Marks an invitation used; false when another registration got there first. */
export async function acceptInvitation(tx: Tx, companyId: number, id: number, userId: number): Promise<boolean> {
  const rows = await tx
    .update(invitations)
    .set({ acceptedAt: sql`now()`, acceptedBy: userId })
    .where(and(eq(invitations.companyId, companyId), eq(invitations.id, id), isNull(invitations.acceptedAt)))
    .returning({ id: invitations.id });
  return rows.length > 0;
}

/**
 * The company's active admins, locked until the transaction ends: two admins demoting or removing
 * each other at once take turns, and the second counts the admins as the first left them.
 */
export async function lockActiveAdmins(tx: Tx, companyId: number): Promise<number[]> {
  const rows = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.companyId, companyId), eq(users.isActive, true), eq(users.role, 'admin')))
    .orderBy(asc(users.id))
    .for('update');
  return rows.map((row) => row.id);
}

/** The pending invitations someone sent: they go when that person stops being an admin. */
export async function deletePendingInvitationsBy(tx: Tx, companyId: number, userId: number): Promise<void> {
  await tx
    .delete(invitations)
    .where(
      and(eq(invitations.companyId, companyId), eq(invitations.invitedBy, userId), isNull(invitations.acceptedAt)),
    );
}

export async function setRole(tx: Tx, companyId: number, userId: number, role: UserRole): Promise<void> {
  await tx
    .update(users)
    .set({ role, updatedAt: sql`now()` })
    .where(and(eq(users.companyId, companyId), eq(users.id, userId)));
}

/** Removal keeps the row (tasks and history still name the person) but ends every way in. */
export async function deactivateUser(tx: Tx, companyId: number, userId: number): Promise<void> {
  await tx
    .update(users)
    .set({ isActive: false, updatedAt: sql`now()` })
    .where(and(eq(users.companyId, companyId), eq(users.id, userId)));
  await tx
    .update(refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(eq(refreshTokens.companyId, companyId), eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)),
    );
}

/** Across companies (the maintenance purge): refresh tokens and invitations that can never be used again. */
export async function unsafePurgeExpired(tx: Tx): Promise<{ refreshTokens: number; invitations: number }> {
  const tokens = await tx
    .delete(refreshTokens)
    .where(sql`${refreshTokens.expiresAt} < now()`)
    .returning({ id: refreshTokens.id });
  const invites = await tx
    .delete(invitations)
    .where(sql`${invitations.expiresAt} < now() and ${invitations.acceptedAt} is null`)
    .returning({ id: invitations.id });
  return { refreshTokens: tokens.length, invitations: invites.length };
}

/** Whether this user is an active member of the company: who may be given a task. */
export async function isActiveMember(tx: Tx, companyId: number, userId: number): Promise<boolean> {
  const [row] = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.companyId, companyId), eq(users.id, userId), eq(users.isActive, true)));
  return row !== undefined;
}

/**
 * The caller's check (requireActor's) as the head of a single statement, for the reads that
 * answer it together with their data in one round trip (checkActor on `active`), with the company
 * as $1 and the user as $2. One row: null when there is no such user in the company (or no such
 * company), else is_active. Materialized, so the user is looked up once however often the
 * statement consults it.
 */
export const WITH_ACTOR = `with actor as materialized (
  select (select u.is_active from users u join companies c on c.id = u.company_id
          where u.company_id = $1 and u.id = $2) as active
)`;
