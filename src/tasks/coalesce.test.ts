import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalesce.ts';

/** A computation that reports which run it was and finishes when told to. */
function controlled() {
  let runs = 0;
  const finishers: Array<() => void> = [];
  const compute = () =>
    new Promise<number>((resolve) => {
      runs += 1;
      const run = runs;
      finishers.push(() => resolve(run));
    });
  return { compute, finish: () => finishers.shift()?.(), runs: () => runs };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
  it('runs once for a lone caller', async () => {
    const c = controlled();
    const coalescer = new Coalescer<string, number>();
    const answer = coalescer.run('a', c.compute);
    c.finish();
    expect(await answer).toBe(1);
  });

  it('gives callers who arrive during a run the next run, shared', async () => {
    const c = controlled();
    const coalescer = new Coalescer<string, number>();
    const first = coalescer.run('a', c.compute);
    const late = [coalescer.run('a', c.compute), coalescer.run('a', c.compute), coalescer.run('a', c.compute)];
    expect(c.runs()).toBe(1);
    c.finish();
    expect(await first).toBe(1);
    await tick();
    expect(c.runs()).toBe(2);
    const later = coalescer.run('a', c.compute);
    c.finish();
    expect(await Promise.all(late)).toEqual([2, 2, 2]);
    await tick();
    c.finish();
    expect(await later).toBe(3);
  });

  it('keeps keys apart, and a failed run does not stop the next', async () => {
    const coalescer = new Coalescer<string, number>();
    const failing = coalescer.run('a', () => Promise.reject(new Error('boom')));
    const next = coalescer.run('a', async () => 7);
    const other = coalescer.run('b', async () => 8);
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe(7);
    expect(await other).toBe(8);
  });
});
