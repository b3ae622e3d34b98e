/**
 * Shares expensive reads between concurrent callers without serving stale answers: a caller
 * arriving while a computation for its key runs waits for the next one, which starts after that
 * caller arrived and is shared by everyone who arrived meanwhile. So each answer reflects every
 * write committed before its request, and a burst of N callers costs at most two computations.
 */
export class Coalescer<K, T> {
  private readonly running = new Map<K, Promise<T>>();
  private readonly queued = new Map<K, Promise<T>>();

  run(key: K, compute: () => Promise<T>): Promise<T> {
    const queued = this.queued.get(key);
    if (queued !== undefined) return queued;
    const running = this.running.get(key);
    if (running === undefined) return this.start(key, compute);
    const next = running
      .catch(() => undefined)
      .then(() => {
        this.queued.delete(key);
        return this.start(key, compute);
      });
    this.queued.set(key, next);
    return next;
  }

  private start(key: K, compute: () => Promise<T>): Promise<T> {
    const promise = compute().finally(() => {
      if (this.running.get(key) === promise) this.running.delete(key);
    });
    this.running.set(key, promise);
    return promise;
  }
}
