import type { Lock as RedlockLock } from '@sesamecare-oss/redlock';
import type { Lock, Locker, RequestRelease } from '@tus/utils';
import type { Redis } from 'ioredis';
import { errors, type TusError } from '../errors.js';
import { IdleSignal } from './idle-signal.js';
import { RedisLockChannel, type LockEvent } from './redis-lock-channel.js';
import { RedisLockHold, type HoldState } from './redis-lock-hold.js';
import { RedlockRounds } from './redlock-rounds.js';

export interface RedisLockerOptions {
  /**
   * Independent Redis masters: one, or an odd number for a redlock quorum. They must fail
   * fast while disconnected (`enableOfflineQueue: false`), or a request waits for Redis
   * instead of getting a 503. The locker never closes them: they belong to the caller.
   */
  readonly clients: readonly Redis[];
  /** Prefix of every key and channel (`<prefix>lock:<id>`, `<prefix>lock-events:<id>`). */
  readonly prefix: string;
  /** How long `lock()` waits for a held lock before failing with 423. */
  readonly acquireTimeoutMs: number;
  /** How long a holder asked to release may still write (@tus/server's lockDrainTimeout). */
  readonly releaseDrainMs: number;
  /** Lifetime of a lock nobody extends, i.e. how long a dead instance's locks stay held. */
  readonly lockTtlMs?: number;
  readonly extendIntervalMs?: number;
  /** Bound on one Redis round; longer counts as unreachable. */
  readonly operationTimeoutMs?: number;
  /** Fallback re-check of a held lock when no "released" message arrives (doubles up to max). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /**
   * When another instance asked for a lock, how long this instance's own next waiter holds
   * back after the lock is freed, so the asking instance gets its turn (no starvation).
   */
  readonly handoverGraceMs?: number;
  /** Observers (metrics): `onWait` gets the time each granted `lock()` waited. */
  readonly onWait?: (waitedMs: number) => void;
  readonly onTimeout?: () => void;
  /** A held lock is in danger (cannot be extended) or lost; its holder was asked to release. */
  readonly onDanger?: (id: string, state: 'endangered' | 'lost') => void;
}

const DEFAULT_TTL_MS = 10_000;
const DEFAULT_OPERATION_TIMEOUT_MS = 1_000;
const SAFETY_MS = 100;

interface Holder {
  readonly handle: RedisLock;
  readonly requestRelease: RequestRelease;
}

interface Waiter extends Holder {
  readonly since: number;
  grant(): void;
  fail(error: TusError): void;
}

/** What this instance knows and does about one lock id. */
interface Entry {
  readonly queue: Waiter[];
  holder?: Holder;
  /** The Redis key while this instance owns it (kept across in-process handovers). */
  hold?: RedisLockHold;
  /** Another instance asked the holder to release: free the key instead of handing it over. */
  remoteAsked: boolean;
  /** The key is being deleted in Redis. */
  releasing: boolean;
  /** The head waiter is competing for the key in Redis. */
  contending: boolean;
  /** Wakes the competing head before its backoff ends. */
  wake?: () => void;
  /** A "released" message arrived while no one was asleep to hear it. */
  woken: boolean;
  stopListening(): void;
}

/**
 * Locker for many instances sharing Redis (redlock over one or several masters).
 *
 * Within an instance, waiters for an id queue in arrival order and only the first competes
 * in Redis; the others sleep. The competing one sleeps too, between attempts: each failed
 * attempt publishes "release-requested" on the lock's channel, which the holding instance
 * turns into its holder's `requestRelease` (so the holder's request is cut after the drain
 * time, wherever it runs) and answers with "released" once the key is deleted; a backoff
 * timer covers lost messages. An uncontended lock costs a request one Redis round trip per
 * master (acquire; the release is not waited for) and no pub/sub traffic. Locks carry a TTL and are extended while held
 * (see RedisLockHold for what happens when that fails); a dead instance's locks expire
 * within the TTL. Redis unreachable → 503 at once, never a hang.
 */
export class RedisLocker implements Locker {
  private readonly entries = new Map<string, Entry>();
  private readonly channel: RedisLockChannel;
  private readonly rounds: RedlockRounds;
  private readonly idleness = new IdleSignal(() => this.idle());
  private readonly ttlMs: number;
  private readonly extendIntervalMs: number;
  private readonly operationTimeoutMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private closed = false;

  constructor(private readonly options: RedisLockerOptions) {
    if (options.clients.length === 0) throw new RangeError('RedisLocker needs at least one Redis client');
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    const needed = options.releaseDrainMs + this.operationTimeoutMs + SAFETY_MS;
    this.ttlMs = options.lockTtlMs ?? Math.max(DEFAULT_TTL_MS, 2 * needed);
    this.extendIntervalMs = options.extendIntervalMs ?? Math.floor(this.ttlMs / 3);
    // Worst case: the first extension fails `operationTimeoutMs` after it was due; the holder
    // must then still have its drain time (plus a margin) left. 1% = redlock's clock drift.
    if (Math.floor(this.ttlMs * 0.99) - 2 - this.extendIntervalMs < needed) {
      throw new RangeError(
        `lock TTL ${this.ttlMs} ms is too short: TTL - extend interval must exceed drain + Redis timeout + ${SAFETY_MS} ms (${needed} ms)`,
      );
    }
    this.retryMinMs = options.retryMinMs ?? 50;
    this.retryMaxMs = options.retryMaxMs ?? 1_000;
    this.rounds = new RedlockRounds(options.clients, this.ttlMs, this.operationTimeoutMs);
    this.channel = new RedisLockChannel(options.clients, options.prefix);
  }

  newLock(id: string): Lock {
    return new RedisLock(this, id);
  }

  /** Number of ids whose lock a request of this instance holds. */
  get heldCount(): number {
    let held = 0;
    for (const entry of this.entries.values()) if (entry.holder) held += 1;
    return held;
  }

  /** Resolves true once nothing is held or being released, or false after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    return this.idleness.wait(timeoutMs);
  }

  /**
   * Resolves true once this instance hears the others' lock events on every master, or
   * false after `timeoutMs` (it then works, waiters just rely more on their backoff).
   */
  whenListening(timeoutMs: number): Promise<boolean> {
    return this.channel.whenListening(timeoutMs);
  }

  /**
   * Refuses new locks, fails waiters (503), releases the keys still held (their requests may
   * unlock later without error) and closes the subscriber connections.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const releases: Promise<void>[] = [];
    for (const [id, entry] of this.entries) {
      for (const waiter of entry.queue.splice(0)) waiter.fail(errors.redisUnavailable());
      entry.wake?.();
      const hold = entry.hold;
      entry.hold = undefined;
      if (hold) releases.push(this.releaseKey(id, hold, true));
    }
    await Promise.all(releases);
    this.channel.close();
  }

  /** @internal Used by RedisLock. */
  acquire(id: string, handle: RedisLock, signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    if (signal.aborted) return Promise.reject(errors.lockTimeout());
    if (this.closed) return Promise.reject(errors.redisUnavailable());
    const entry = this.entries.get(id) ?? this.open(id);
    return new Promise<void>((resolve, reject) => {
      const since = Date.now();
      const leave = (error: TusError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const index = entry.queue.indexOf(waiter);
        if (index >= 0) entry.queue.splice(index, 1);
        reject(error);
        // The competing head may be asleep with no one left to compete for.
        if (entry.queue.length === 0) entry.wake?.();
        this.forgetIfUnused(id, entry);
      };
      const onAbort = () => leave(errors.lockTimeout());
      const timer = setTimeout(() => {
        this.options.onTimeout?.();
        leave(errors.lockTimeout());
      }, this.options.acquireTimeoutMs);
      const waiter: Waiter = {
        handle,
        requestRelease,
        since,
        grant: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.options.onWait?.(Date.now() - since);
          resolve();
        },
        fail: leave,
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.queue.push(waiter);
      if (entry.holder) askToRelease(entry.holder.requestRelease);
      else if (!entry.releasing && !entry.contending) void this.contend(id, entry, 0);
    });
  }

  /**
   * @internal Used by RedisLock. Returns before Redis has deleted the key: the holder is done
   * writing, and the key (so the exclusion) lasts until the delete runs, so the request need
   * not wait a round trip for it. Waiters, here or elsewhere, are woken once it has run.
   */
  release(id: string, handle: RedisLock): void {
    const entry = this.entries.get(id);
    if (entry?.holder?.handle !== handle) throw new Error(`Releasing lock ${id} that is not held`);
    entry.holder = undefined;
    const hold = entry.hold;
    if (hold?.state === 'healthy' && !entry.remoteAsked && entry.queue.length > 0) {
      // In-process handover: the key stays ours, the next local waiter gets it at once.
      this.grantHead(entry);
      return;
    }
    entry.hold = undefined;
    if (!hold) return this.afterRelease(id, entry, false);
    entry.releasing = true;
    // Announced in afterRelease only if someone asked: uncontended locks cost no pub/sub traffic.
    void this.releaseKey(id, hold, false).then(() => {
      entry.releasing = false;
      this.afterRelease(id, entry, true);
    });
  }

  private afterRelease(id: string, entry: Entry, keyDeleted: boolean): void {
    const yieldToRemote = entry.remoteAsked;
    entry.remoteAsked = false;
    if (keyDeleted && yieldToRemote) this.channel.publish(id, 'released');
    if (entry.queue.length > 0 && !entry.contending && !entry.holder) {
      void this.contend(id, entry, yieldToRemote ? (this.options.handoverGraceMs ?? 20) : 0);
    }
    this.forgetIfUnused(id, entry);
    this.notifyIfIdle();
  }

  private key(id: string): string {
    return `${this.options.prefix}lock:${id}`;
  }

  private open(id: string): Entry {
    const entry: Entry = {
      queue: [],
      remoteAsked: false,
      releasing: false,
      contending: false,
      woken: false,
      stopListening: () => undefined,
    };
    entry.stopListening = this.channel.listen(id, (event) => this.onEvent(entry, event));
    this.entries.set(id, entry);
    return entry;
  }

  private onEvent(entry: Entry, event: LockEvent): void {
    if (event === 'released') {
      if (entry.wake) entry.wake();
      else entry.woken = true;
      return;
    }
    // While the key is being deleted, remember the ask: "released" then goes out after it.
    if (entry.holder || entry.releasing) entry.remoteAsked = true;
    if (entry.holder) askToRelease(entry.holder.requestRelease);
  }

  /** The head waiter competes for the key until it is granted or no one waits any more. */
  private async contend(id: string, entry: Entry, initialDelayMs: number): Promise<void> {
    entry.contending = true;
    entry.woken = false;
    let backoffMs = this.retryMinMs;
    try {
      if (initialDelayMs > 0) await this.sleep(entry, initialDelayMs);
      while (entry.queue.length > 0 && !this.closed) {
        const outcome = await this.rounds.acquire(this.key(id));
        if (outcome.kind === 'acquired') {
          const hold = this.newHold(id, entry, outcome.lock);
          if (entry.queue.length === 0 || this.closed) {
            // Everyone who wanted it gave up meanwhile; newcomers during the release loop again.
            await this.releaseKey(id, hold, entry.remoteAsked);
            entry.remoteAsked = false;
            continue;
          }
          entry.hold = hold;
          this.grantHead(entry);
          return;
        }
        if (outcome.kind === 'unavailable') {
          for (const waiter of entry.queue.splice(0)) waiter.fail(errors.redisUnavailable());
          return;
        }
        this.channel.publish(id, 'release-requested');
        await this.sleep(entry, backoffMs + Math.floor(Math.random() * backoffMs));
        backoffMs = Math.min(backoffMs * 2, this.retryMaxMs);
      }
    } finally {
      entry.contending = false;
      this.forgetIfUnused(id, entry);
    }
  }

  private newHold(id: string, entry: Entry, lock: RedlockLock): RedisLockHold {
    return new RedisLockHold(
      lock,
      this.rounds,
      {
        extendIntervalMs: this.extendIntervalMs,
        extendRetryMs: Math.max(10, Math.min(250, Math.floor(this.extendIntervalMs / 4))),
        operationTimeoutMs: this.operationTimeoutMs,
        releaseDrainMs: this.options.releaseDrainMs,
        safetyMs: SAFETY_MS,
      },
      (state: Exclude<HoldState, 'healthy'>) => {
        this.options.onDanger?.(id, state);
        if (entry.holder) askToRelease(entry.holder.requestRelease);
      },
    );
  }

  private grantHead(entry: Entry): void {
    const next = entry.queue.shift();
    if (!next) return;
    entry.holder = { handle: next.handle, requestRelease: next.requestRelease };
    next.grant();
    // Those still queued want it as much as before: the new holder is asked too.
    if (entry.queue.length > 0) askToRelease(next.requestRelease);
  }

  private async releaseKey(id: string, hold: RedisLockHold, announce: boolean): Promise<void> {
    hold.stop();
    await this.rounds.release(hold.lock);
    if (announce) this.channel.publish(id, 'released');
  }

  /** Sleeps `ms`, or less if a "released" message arrives (or arrived during the attempt). */
  private sleep(entry: Entry, ms: number): Promise<void> {
    if (entry.woken) {
      entry.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake() {
        clearTimeout(timer);
        entry.wake = undefined;
        resolve();
      }
      entry.wake = wake;
    });
  }

  private forgetIfUnused(id: string, entry: Entry): void {
    if (entry.holder || entry.hold || entry.releasing || entry.contending || entry.queue.length > 0) return;
    if (this.entries.get(id) !== entry) return;
    this.entries.delete(id);
    entry.stopListening();
  }

  private idle(): boolean {
    for (const entry of this.entries.values()) if (entry.holder || entry.releasing) return false;
    return true;
  }

  private notifyIfIdle(): void {
    this.idleness.check();
  }
}

/** Asks a holder to let go; its failure must neither break the locker nor go unhandled. */
function askToRelease(requestRelease: RequestRelease): void {
  Promise.resolve()
    .then(requestRelease)
    .catch(() => undefined);
}

class RedisLock implements Lock {
  constructor(
    private readonly locker: RedisLocker,
    private readonly id: string,
  ) {}

  lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    return this.locker.acquire(this.id, this, signal, requestRelease);
  }

  /** Never fails for a lock it holds, even one lost in Redis meanwhile (that key expires). */
  async unlock(): Promise<void> {
    this.locker.release(this.id, this);
  }
}
