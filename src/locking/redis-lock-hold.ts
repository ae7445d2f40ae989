import type { Lock as RedlockLock } from '@sesamecare-oss/redlock';
import type { RedlockRounds } from './redlock-rounds.js';

export interface HoldTiming {
  readonly extendIntervalMs: number;
  /** Delay between extension attempts once one has failed. */
  readonly extendRetryMs: number;
  /** Bound on one Redis round (an extension that takes longer counts as failed). */
  readonly operationTimeoutMs: number;
  /** How long the holder keeps writing after it is asked to release. */
  readonly releaseDrainMs: number;
  /** Margin between the holder's last write and the earliest moment anyone else can lock. */
  readonly safetyMs: number;
}

export type HoldState = 'healthy' | 'endangered' | 'lost';

/**
 * One Redis lock this instance owns, kept alive by extending it every `extendIntervalMs`.
 *
 * Why the holder stops writing before anyone else can take the lock: nobody can acquire the
 * key before it expires on a quorum, and `lock.expiration` (redlock: start of the round that
 * set the TTL, plus the TTL, minus clock drift) is a lower bound on that moment. After a
 * failed extension we retry only while the retry could still fail and leave enough time,
 * i.e. while `expiration - (now + extendRetryMs + operationTimeoutMs) >= releaseDrainMs +
 * safetyMs`. The first time that no longer holds, `onDanger` asks the holder to release;
 * @tus/server then cuts the request at most `releaseDrainMs` later, so its last write lands
 * at least `safetyMs` before `expiration`. A quorum saying the key is no longer ours (e.g.
 * a master restarted without persistence) calls `onDanger` at once; that case cannot be
 * fenced by timing and is the known redlock caveat (run masters with persistence or delay
 * their restart by one TTL).
 */
export class RedisLockHold {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private current: RedlockLock;
  /** Copied out: redlock zeroes a lock's own `expiration` once it is extended or released. */
  private validUntil: number;
  state: HoldState = 'healthy';

  constructor(
    lock: RedlockLock,
    private readonly rounds: RedlockRounds,
    private readonly timing: HoldTiming,
    private readonly onDanger: (state: Exclude<HoldState, 'healthy'>) => void,
  ) {
    this.current = lock;
    this.validUntil = lock.expiration;
    this.schedule(timing.extendIntervalMs);
  }

  get lock(): RedlockLock {
    return this.current;
  }

  /** Stops extending; the caller then releases (or abandons) the key. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.extend(), delayMs);
    // A held lock must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  private async extend(): Promise<void> {
    // A timer that fired late (event-loop stall) may already be too close to the edge.
    if (!this.leavesTimeToDrain(this.timing.operationTimeoutMs)) this.endanger();
    const outcome = await this.rounds.extend(this.current, (late) => this.adopt(late));
    if (this.stopped) return;
    if (outcome.kind === 'extended') {
      this.adopt(outcome.lock);
      this.schedule(this.timing.extendIntervalMs);
      return;
    }
    if (outcome.kind === 'lost' || this.validUntil <= Date.now()) {
      this.state = 'lost';
      this.stopped = true;
      this.onDanger('lost');
      return;
    }
    if (!this.leavesTimeToDrain(this.timing.extendRetryMs + this.timing.operationTimeoutMs)) this.endanger();
    this.schedule(this.timing.extendRetryMs);
  }

  private adopt(extended: RedlockLock): void {
    if (this.state === 'lost') return;
    this.current = extended;
    this.validUntil = extended.expiration;
    // Validity is restored; a holder already asked to go still goes, which is harmless.
    this.state = 'healthy';
  }

  /** True when, after `ms` more, the holder could still be cut before the key can expire. */
  private leavesTimeToDrain(ms: number): boolean {
    const remaining = this.validUntil - (Date.now() + ms);
    return remaining >= this.timing.releaseDrainMs + this.timing.safetyMs;
  }

  private endanger(): void {
    if (this.state !== 'healthy') return;
    this.state = 'endangered';
    this.onDanger('endangered');
  }
}
