// One run of an async job at a time; a call during a run joins it and gets one more round after it.

/**
 * Wraps `round` so at most one runs at a time. A call while one runs is answered by that run, which goes
 * one more round once the current one ends (what the caller asked for may have arrived after it began).
 * The rounds' results are folded with `combine`; a round that throws ends the run and rejects every caller.
 */
export function singleFlight<T>(round: () => Promise<T>, combine: (a: T, b: T) => T): () => Promise<T> {
  let running: Promise<T> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async (): Promise<T> => {
      try {
        again = false;
        let result = (await round()) as T;
        while (again) {
          again = false;
          result = combine(result, (await round()) as T);
        }
        return result;
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
