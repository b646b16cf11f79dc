/**
 * One section at a time: an async mutex. The data plane's controller and the
 * stage endpoints share one, so that no runtime API change lands between a
 * render of haproxy.cfg and the reload that loads it (a reload keeps only the
 * servers its config names).
 */
export type Exclusive = <T>(section: () => Promise<T>) => Promise<T>;

export function createExclusive(): Exclusive {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(section: () => Promise<T>): Promise<T> => {
    const result = tail.then(section);
    // The next section waits for this one to settle, whether it succeeded or not.
    tail = result.catch(() => undefined);
    return result;
  };
}
