/**
 * One place that knows what the run has started (child processes, temp dirs, sockets), so
 * they are released on success, on a thrown error, on Ctrl-C and on the watchdog alike.
 */
type Cleanup = { readonly name: string; readonly run: () => Promise<void> | void; readonly sync?: () => void };

const pending = new Set<Cleanup>();

/** Registers a cleanup; the returned function runs it once and unregisters it. */
export function onCleanup(name: string, run: () => Promise<void> | void, sync?: () => void): () => Promise<void> {
  const entry: Cleanup = { name, run, ...(sync ? { sync } : {}) };
  pending.add(entry);
  return async () => {
    if (!pending.delete(entry)) return;
    await entry.run();
  };
}

let inFlight: Promise<void> | undefined;

/**
 * Runs every registered cleanup, newest first, each bounded in time. Concurrent callers (a
 * signal handler and the run's own `finally`) share one pass, so neither exits the process
 * while the other is still stopping something slow (a cluster takes seconds).
 */
export function cleanupAll(timeoutMs = 10_000): Promise<void> {
  inFlight ??= (async () => {
    // Bounded: every pass removes one entry; new ones registered meanwhile are run as well.
    for (let entry = [...pending].at(-1); entry; entry = [...pending].at(-1)) {
      const current = entry;
      pending.delete(current);
      await Promise.race([
        Promise.resolve()
          .then(current.run)
          .catch((error: unknown) => console.error(`cleanup ${current.name} failed:`, error)),
        new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
  })().finally(() => {
    inFlight = undefined;
  });
  return inFlight;
}

// Last resort if the process exits without awaiting cleanupAll: only synchronous work is possible.
process.on('exit', () => {
  for (const entry of pending) entry.sync?.();
});
