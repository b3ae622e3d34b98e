import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDir } from '../../test/scratch.ts';
import { ownerOnlyDataDir } from './data-dir.ts';

const mode = (file: string) => statSync(file).mode & 0o777;

describe('ownerOnlyDataDir', () => {
  const umask = process.umask();
  afterEach(() => {
    process.umask(umask);
  });

  it('tightens what others could read, says which, and leaves new files to the owner', () => {
    const dir = scratchDir('tasks-datadir-');
    const nested = path.join(dir, 'pgdata', 'base');
    mkdirSync(nested, { recursive: true });
    writeFileSync(path.join(dir, 'jwt_secret'), 'secret', { mode: 0o600 });
    writeFileSync(path.join(nested, '1259'), 'rows');
    for (const [file, bits] of [
      [dir, 0o755],
      [path.join(dir, 'pgdata'), 0o755],
      [nested, 0o750],
      [path.join(nested, '1259'), 0o666],
    ] as const)
      chmodSync(file, bits);

    expect(ownerOnlyDataDir(dir).sort()).toEqual([dir, path.join(dir, 'pgdata'), nested, path.join(nested, '1259')]);
    expect([dir, path.join(dir, 'pgdata'), nested].map(mode)).toEqual([0o700, 0o700, 0o700]);
    expect(mode(path.join(nested, '1259'))).toBe(0o600);
    expect(mode(path.join(dir, 'jwt_secret'))).toBe(0o600);
    expect(ownerOnlyDataDir(dir)).toEqual([]);

    writeFileSync(path.join(dir, 'outbox.eml'), 'mail');
    mkdirSync(path.join(dir, 'outbox'));
    expect(mode(path.join(dir, 'outbox.eml'))).toBe(0o600);
    expect(mode(path.join(dir, 'outbox'))).toBe(0o700);
  });

  it('creates a missing DATA_DIR for the owner only', () => {
    const dir = path.join(scratchDir('tasks-datadir-'), 'data');
    expect(ownerOnlyDataDir(dir)).toEqual([]);
    expect(mode(dir)).toBe(0o700);
  });
});
