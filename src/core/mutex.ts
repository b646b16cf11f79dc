/**
 * One async section at a time, in call order. The data plane's reloads and
 * its endpoint changes share one: a server added between a config's render
 * and its reload would be dropped by the reload.
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every section queued before it has finished; its result or error is the caller's. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
