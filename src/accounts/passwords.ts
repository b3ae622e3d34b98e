import { hash, verify } from '@node-rs/argon2';

/** The contract's rules, with Django's messages, which clients show their users as they are. */
export function passwordProblems(password: string, username: string, email: string): string[] {
  const problems: string[] = [];
  if (password.length < 8) problems.push('This password is too short. It must contain at least 8 characters.');
  if (/^\d+$/.test(password)) problems.push('This password is entirely numeric.');
  const lower = password.toLowerCase();
  const emailName = email.split('@')[0]?.toLowerCase() ?? '';
  const similar = [username.toLowerCase(), emailName].some(
    (attribute) =>
      attribute.length > 0 && (lower === attribute || (attribute.length >= 4 && lower.includes(attribute))),
  );
  if (similar) problems.push('The password is too similar to the username.');
  return problems;
}

/** @node-rs/argon2 defaults to argon2id (m=19456 KiB, t=2, p=1), OWASP's recommended minimum. */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/**
 * Logging in as an unknown user costs the same hash as a wrong password, so response times do not
 * tell which usernames exist.
 */
const DUMMY_HASH = hashPassword('not-a-real-password-used-for-timing');

export async function verifyPassword(storedHash: string | undefined, password: string): Promise<boolean> {
  if (storedHash === undefined) {
    await verify(await DUMMY_HASH, password).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}
