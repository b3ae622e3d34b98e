/**
 * Runs the work given for one key at most `width` pieces at a time, in order of arrival; different
 * keys run at once. For writes the database serializes anyway (a project's task numbers, taken
 * from one row locked until commit): fifty creates waiting in PostgreSQL hold fifty pooled
 * connections and pass the row lock along a chain of process wake-ups, and waiting here holds
 * neither. A width of a few keeps the next ones queued in PostgreSQL behind the one running, so
 * that the lock passes straight on when it commits, without a round trip to this process between.
 */
export class KeyedMutex<K> {
  readonly #queues = new Map<K, { running: number; waiting: Array<() => void> }>();

  constructor(private readonly width = 1) {}

  async run<T>(key: K, work: () => Promise<T>): Promise<T> {
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = { running: 0, waiting: [] };
      this.#queues.set(key, queue);
    }
    if (queue.running < this.width) {
      queue.running += 1;
    } else {
      const waiting = queue.waiting;
      // The slot of the one that ends is handed over, not given back and taken again.
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = queue.waiting.shift();
      if (next !== undefined) next();
      else {
        queue.running -= 1;
        if (queue.running === 0) this.#queues.delete(key);
      }
    }
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.#queues.size;
  }
}
