/**
 * `promise`'s value, or `late()`'s once `ms` passed without one: what the
 * cluster code says to a statement held up by a partition, which may never
 * answer. The statement itself is not cancelled; its answer is ignored.
 */
export async function within<T>(promise: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((resolve) => {
        timer = setTimeout(() => resolve(late()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
