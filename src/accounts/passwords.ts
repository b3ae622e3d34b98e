import { hash, verify } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * 49,000 passwords most often found in leaks (zxcvbn's list, from a maintained package; Django's
 * own list has 20,000), read once when this module loads.
 */
const COMMON_PASSWORDS = new Set(dictionary['passwords-common']);

/** Django's UserAttributeSimilarityValidator threshold. */
const MAX_SIMILARITY = 0.7;

/** Python's SequenceMatcher.quick_ratio: twice the characters in common over both lengths. */
function quickRatio(a: string, b: string): number {
  const counts = new Map<string, number>();
  for (const char of b) counts.set(char, (counts.get(char) ?? 0) + 1);
  let common = 0;
  for (const char of a) {
    const left = counts.get(char) ?? 0;
    if (left > 0) {
      common += 1;
      counts.set(char, left - 1);
    }
  }
  return a.length + b.length === 0 ? 1 : (2 * common) / (a.length + b.length);
}

/** As Django: a long password is not "similar" to a value far shorter than itself. */
function exceedsLengthRatio(password: string, value: string): boolean {
  return password.length >= 10 * value.length && value.length < (MAX_SIMILARITY / 2) * password.length;
}

export interface PasswordOwner {
  username: string;
  email: string;
  firstName?: string;
  lastName?: string;
}

/**
 * Django's default validators, with their messages, which clients show their users as they are: minimum
 * length, not entirely numeric, not common, not too similar to the person's own attributes.
 */
export function passwordProblems(password: string, owner: PasswordOwner): string[] {
  const problems: string[] = [];
  if (password.length < 8) problems.push('This password is too short. It must contain at least 8 characters.');
  if (/^\d+$/.test(password)) problems.push('This password is entirely numeric.');
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower.trim())) problems.push('This password is too common.');
  const attributes: [string, string | undefined][] = [
    ['username', owner.username],
    ['first name', owner.firstName],
    ['last name', owner.lastName],
    ['email address', owner.email],
  ];
  for (const [name, value] of attributes) {
    if (value === undefined || value === '') continue;
    const whole = value.toLowerCase();
    const parts = [...whole.split(/[^\p{L}\p{N}_]+/u), whole];
    const similar = parts.some(
      (part) => part !== '' && !exceedsLengthRatio(lower, part) && quickRatio(lower, part) >= MAX_SIMILARITY,
    );
    if (similar) problems.push(`The password is too similar to the ${name}.`);
  }
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
