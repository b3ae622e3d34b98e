import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.ts';

describe('KeyedMutex', () => {
  it('runs one key’s work one at a time in order of arrival, other keys beside it, and forgets idle keys', async () => {
    const mutex = new KeyedMutex<string>();
    const events: string[] = [];
    let releaseFirst = () => {};
    const first = mutex.run('a', async () => {
      events.push('a1 start');
      await new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      events.push('a1 end');
      return 1;
    });
    const second = mutex.run('a', async () => {
      events.push('a2');
      return 2;
    });
    const other = mutex.run('b', async () => {
      events.push('b1');
      return 3;
    });
    expect(await other).toBe(3);
    expect(events).toEqual(['a1 start', 'b1']);
    releaseFirst();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(events).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(mutex.size).toBe(0);
  });

  it('runs up to its width of one key’s work at once, the rest in order of arrival', async () => {
    const mutex = new KeyedMutex<string>(2);
    const events: string[] = [];
    const releases: Array<() => void> = [];
    const piece = (name: string) =>
      mutex.run('a', async () => {
        events.push(`${name} start`);
        await new Promise<void>((resolve) => releases.push(resolve));
        events.push(`${name} end`);
      });
    const pieces = [piece('1'), piece('2'), piece('3'), piece('4')];
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['1 start', '2 start']);
    releases[1]?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['1 start', '2 start', '2 end', '3 start']);
    releases[0]?.();
    releases[2]?.();
    await new Promise((resolve) => setImmediate(resolve));
    releases[3]?.();
    await Promise.all(pieces);
    expect(events.filter((e) => e.endsWith('start'))).toEqual(['1 start', '2 start', '3 start', '4 start']);
    expect(mutex.size).toBe(0);
  });

  it('goes on with the next piece of work after one that fails', async () => {
    const mutex = new KeyedMutex<number>();
    const failed = mutex.run(1, async () => {
      throw new Error('boom');
    });
    const next = mutex.run(1, async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ran');
  });
});
