import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `probe` until it returns a value that is not undefined, at most `timeoutMs`; throws
 * naming `what` otherwise. For waiting on other processes, never for timing assertions.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
