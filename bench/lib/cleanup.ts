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

/** Runs every registered cleanup, newest first, each bounded in time. */
export async function cleanupAll(timeoutMs = 10_000): Promise<void> {
  for (const entry of [...pending].reverse()) {
    pending.delete(entry);
    await Promise.race([
      Promise.resolve()
        .then(entry.run)
        .catch((error: unknown) => console.error(`cleanup ${entry.name} failed:`, error)),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }
}

// Last resort if the process exits without awaiting cleanupAll: only synchronous work is possible.
process.on('exit', () => {
  for (const entry of pending) entry.sync?.();
});
