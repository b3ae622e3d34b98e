import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.ts';

/** A batch runner that records what each call got and answers when told to. */
function recordingRunner() {
  const calls: Array<{ key: string; items: number[] }> = [];
  const pending: Array<() => void> = [];
  const run = (key: string, items: number[]) => {
    calls.push({ key, items });
    return new Promise<number[]>((resolve, reject) =>
      pending.push(() => (items.includes(-1) ? reject(new Error('refused')) : resolve(items.map((i) => i * 10)))),
    );
  };
  const answerAll = async () => {
    while (pending.length > 0) {
      for (const answer of pending.splice(0)) answer();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { calls, run, answerAll };
}

describe('Batcher', () => {
  it('sends requests of one tick together and answers each its own', async () => {
    const runner = recordingRunner();
    const batcher = new Batcher(runner.run, 10);
    const answers = Promise.all([batcher.submit('a', 1), batcher.submit('a', 2), batcher.submit('a', 3)]);
    await new Promise((r) => setImmediate(r));
    await runner.answerAll();
    expect(await answers).toEqual([10, 20, 30]);
    expect(runner.calls).toEqual([{ key: 'a', items: [1, 2, 3] }]);
  });

  it('gathers the requests made while a batch is in flight into the next, up to the limit', async () => {
    const runner = recordingRunner();
    const batcher = new Batcher(runner.run, 2);
    const first = batcher.submit('a', 1);
    await new Promise((r) => setImmediate(r));
    const later = [batcher.submit('a', 2), batcher.submit('a', 3), batcher.submit('a', 4)];
    await new Promise((r) => setImmediate(r));
    expect(runner.calls).toHaveLength(1);
    await runner.answerAll();
    expect(await Promise.all([first, ...later])).toEqual([10, 20, 30, 40]);
    expect(runner.calls.map((c) => c.items)).toEqual([[1], [2, 3], [4]]);
  });

  it('keeps keys apart and runs their batches side by side', async () => {
    const runner = recordingRunner();
    const batcher = new Batcher(runner.run, 10);
    const answers = Promise.all([batcher.submit('a', 1), batcher.submit('b', 2), batcher.submit('a', 3)]);
    await new Promise((r) => setImmediate(r));
    expect(runner.calls).toEqual([
      { key: 'a', items: [1, 3] },
      { key: 'b', items: [2] },
    ]);
    await runner.answerAll();
    expect(await answers).toEqual([10, 20, 30]);
  });

  it('fails every request of a failed batch, and goes on with the next', async () => {
    const runner = recordingRunner();
    const batcher = new Batcher(runner.run, 10);
    const failed = [batcher.submit('a', 1), batcher.submit('a', -1)].map((p) => p.catch((e: Error) => e.message));
    await new Promise((r) => setImmediate(r));
    const after = batcher.submit('a', 2);
    await runner.answerAll();
    expect(await Promise.all(failed)).toEqual(['refused', 'refused']);
    expect(await after).toBe(20);
  });
});
