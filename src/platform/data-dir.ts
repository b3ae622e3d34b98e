import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

const GROUP_AND_OTHERS = 0o077;

/**
 * DATA_DIR holds the database (password hashes, every company's tasks), the signing key and the
 * outbox: it is the owner's alone. From here on this process creates files for its owner only
 * (umask 077), and an existing DATA_DIR that others could read, from before this rule or copied
 * in by hand, is tightened. Answers the paths it tightened, for the caller to warn about.
 */
export function ownerOnlyDataDir(dir: string): string[] {
  process.umask(GROUP_AND_OTHERS);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tightened: string[] = [];
  const visit = (entry: string) => {
    const stat = lstatSync(entry);
    // A link's own mode means nothing; what it points at is outside what this rule owns.
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & GROUP_AND_OTHERS) !== 0) {
      chmodSync(entry, stat.mode & 0o7700);
      tightened.push(entry);
    }
    if (stat.isDirectory()) for (const name of readdirSync(entry)) visit(path.join(entry, name));
  };
  visit(dir);
  return tightened;
}
