/**
 * Runs the work given for one key one piece at a time, in order of arrival; different keys run at
 * once. For writes the database serializes anyway (a project's task numbers, taken from one row
 * locked until commit): fifty creates waiting in PostgreSQL hold fifty pooled connections and pass
 * the row lock along a chain of process wake-ups, and waiting here holds neither.
 */
export class KeyedMutex<K> {
  readonly #tails = new Map<K, Promise<void>>();

  run<T>(key: K, work: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.#tails.size;
  }
}
