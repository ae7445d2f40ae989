import { ExecutionError, Redlock, ResourceLockedError, type Lock as RedlockLock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';

export type AcquireOutcome =
  | { readonly kind: 'acquired'; readonly lock: RedlockLock }
  /** A quorum of masters answered and someone else holds the key. */
  | { readonly kind: 'busy' }
  /** Too few masters answered in time to decide anything. */
  | { readonly kind: 'unavailable' };

export type ExtendOutcome =
  | { readonly kind: 'extended'; readonly lock: RedlockLock }
  /** A quorum answered that the key is no longer ours (expired, or taken). */
  | { readonly kind: 'lost' }
  | { readonly kind: 'unavailable' };

class DeadlineExceeded extends Error {}

/**
 * Single redlock rounds (no redlock-internal retries: waiting is the locker's job), each
 * bounded by `operationTimeoutMs` so a stalled master can never hang a request, and each
 * failure sorted into "someone else holds it" versus "Redis cannot decide right now".
 */
export class RedlockRounds {
  private readonly redlock: Redlock;
  private readonly quorum: number;

  constructor(
    private readonly clients: readonly Redis[],
    private readonly ttlMs: number,
    private readonly operationTimeoutMs: number,
  ) {
    this.redlock = new Redlock(clients, { retryCount: 0 });
    this.quorum = Math.floor(clients.length / 2) + 1;
  }

  async acquire(key: string): Promise<AcquireOutcome> {
    try {
      const lock = await this.bounded(this.redlock.acquire([key], this.ttlMs, { retryCount: 0 }), (late) =>
        // It was granted after we gave up on it: nobody owns it, so give it back.
        this.release(late),
      );
      return { kind: 'acquired', lock };
    } catch (error) {
      return { kind: (await this.othersAnswered(error)) ? 'busy' : 'unavailable' };
    }
  }

  /** `onLate` receives an extension that succeeded after it was given up on (then `lock` is void). */
  async extend(lock: RedlockLock, onLate: (extended: RedlockLock) => void): Promise<ExtendOutcome> {
    try {
      return { kind: 'extended', lock: await this.bounded(lock.extend(this.ttlMs), onLate) };
    } catch (error) {
      if (error instanceof ExecutionError && error.attempts.length === 0) return { kind: 'lost' }; // already expired
      return { kind: (await this.othersAnswered(error)) ? 'lost' : 'unavailable' };
    }
  }

  /** Best effort: a key we fail to delete expires by itself within the TTL. */
  async release(lock: RedlockLock): Promise<void> {
    await this.bounded(this.redlock.release(lock, { retryCount: 0 }), () => undefined).catch(() => undefined);
  }

  /**
   * True when a quorum of masters answered (and refused): the key is someone else's.
   * False when too many masters failed or did not answer in time.
   */
  private async othersAnswered(error: unknown): Promise<boolean> {
    if (!(error instanceof ExecutionError)) return false;
    const attempt = error.attempts[0];
    // The votes are all in unless a master stalls; then judge by connection state.
    const stats = attempt && (await Promise.race([attempt, new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]));
    if (!stats) return this.clients.filter((c) => c.status === 'ready').length >= this.quorum;
    let refusals = 0;
    for (const reason of stats.votesAgainst.values()) if (reason instanceof ResourceLockedError) refusals += 1;
    return refusals + stats.votesFor.size >= this.quorum;
  }

  private bounded<T>(operation: Promise<T>, onLate: (value: T) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(new DeadlineExceeded(`Redis did not answer within ${this.operationTimeoutMs} ms`));
      }, this.operationTimeoutMs);
      operation.then(
        (value) => {
          clearTimeout(timer);
          if (late) onLate(value);
          else resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}
