import type { Lock, Locker, RequestRelease } from '@tus/utils';
import { errors } from '../errors.js';
import { IdleSignal } from './idle-signal.js';

interface Holder {
  readonly requestRelease: RequestRelease;
}

interface Waiter extends Holder {
  readonly grant: () => void;
}

export interface InProcessLockerOptions {
  /** How long `lock()` waits for a held lock before failing with 423. */
  readonly acquireTimeoutMs: number;
}

/**
 * In-process locker for the embedded single-instance mode.
 *
 * Unlike @tus/server's MemoryLocker (which re-polls with setImmediate and so burns a CPU
 * core per waiter), waiters here sleep in a FIFO queue and are woken by `unlock()`.
 * The holder is still asked to release (its request is then cut short by @tus/server after
 * `lockDrainTimeout`), so a client resuming after a network drop is not blocked by its own
 * half-open previous request.
 */
export class InProcessLocker implements Locker {
  private readonly holders = new Map<string, Holder>();
  private readonly queues = new Map<string, Waiter[]>();
  private readonly idleness = new IdleSignal(() => this.holders.size === 0);

  constructor(private readonly options: InProcessLockerOptions) {}

  newLock(id: string): Lock {
    return new InProcessLock(this, id);
  }

  /** Number of ids currently held, for tests and shutdown checks. */
  get heldCount(): number {
    return this.holders.size;
  }

  /**
   * Resolves true once no lock is held, or false after `timeoutMs`: shutdown waits here
   * for requests it cut short to unwind and unlock.
   */
  whenIdle(timeoutMs: number): Promise<boolean> {
    return this.idleness.wait(timeoutMs);
  }

  async acquire(id: string, signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    if (signal.aborted) throw errors.lockTimeout();
    if (!this.holders.has(id) && !this.queues.get(id)?.length) {
      this.holders.set(id, { requestRelease });
      return;
    }
    const holder = this.holders.get(id);
    await this.waitForTurn(id, signal, requestRelease, () => holder && askToRelease(holder.requestRelease));
  }

  release(id: string): void {
    if (!this.holders.delete(id)) {
      throw new Error(`Releasing lock ${id} that is not held`);
    }
    const queue = this.queues.get(id);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.queues.delete(id);
    if (next) {
      // Hand over synchronously so no newcomer can slip in before the waiter resumes.
      this.holders.set(id, { requestRelease: next.requestRelease });
      next.grant();
      // Those still queued want the lock as much as before: the new holder is asked too,
      // or they would sit out its whole request and time out.
      if (queue && queue.length > 0) askToRelease(next.requestRelease);
    }
    this.idleness.check();
  }

  private waitForTurn(
    id: string,
    signal: AbortSignal,
    requestRelease: RequestRelease,
    askHolder: () => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const queue = this.queues.get(id) ?? [];
      this.queues.set(id, queue);
      const leave = (error: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0 && this.queues.get(id) === queue) this.queues.delete(id);
        reject(error);
      };
      const onAbort = () => leave(errors.lockTimeout());
      const timer = setTimeout(() => leave(errors.lockTimeout()), this.options.acquireTimeoutMs);
      const waiter: Waiter = {
        requestRelease,
        grant: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
      askHolder();
    });
  }
}

/** Asks a holder to let go; its failure must neither break the locker nor go unhandled. */
function askToRelease(requestRelease: RequestRelease): void {
  Promise.resolve()
    .then(requestRelease)
    .catch(() => undefined);
}

class InProcessLock implements Lock {
  private held = false;

  constructor(
    private readonly locker: InProcessLocker,
    private readonly id: string,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    await this.locker.acquire(this.id, signal, requestRelease);
    this.held = true;
  }

  async unlock(): Promise<void> {
    if (!this.held) throw new Error(`Releasing lock ${this.id} that is not held`);
    this.held = false;
    this.locker.release(this.id);
  }
}
