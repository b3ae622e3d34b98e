interface Waiting<I, O> {
  item: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for round trips to the database: requests with the same key that arrive while that
 * key's batch is in flight wait for it to end, then go together in the next one. A request alone
 * goes at once (after the current tick, which gathers those made with it), so a quiet system waits
 * for nothing, and under load one round trip serves many.
 */
export class Batcher<K, I, O> {
  readonly #queues = new Map<K, { waiting: Array<Waiting<I, O>>; running: boolean }>();

  /**
   * @param run answers one batch, an output for each item in the same order; if it throws, every
   *   request of the batch gets the error.
   */
  constructor(
    private readonly run: (key: K, items: I[]) => Promise<O[]>,
    private readonly maxBatch: number,
  ) {}

  submit(key: K, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let queue = this.#queues.get(key);
      if (queue === undefined) {
        queue = { waiting: [], running: false };
        this.#queues.set(key, queue);
      }
      queue.waiting.push({ item, resolve, reject });
      if (!queue.running && queue.waiting.length === 1) queueMicrotask(() => void this.#drain(key));
    });
  }

  async #drain(key: K): Promise<void> {
    const queue = this.#queues.get(key);
    if (queue === undefined || queue.running) return;
    queue.running = true;
    while (queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, this.maxBatch);
      try {
        const outputs = await this.run(
          key,
          batch.map((w) => w.item),
        );
        for (const [i, w] of batch.entries()) w.resolve(outputs[i] as O);
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.#queues.delete(key);
  }
}
