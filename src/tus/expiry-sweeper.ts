import type { Logger } from '../logging/logger.js';

export interface Sweepable {
  deleteExpired(): Promise<number>;
}

/**
 * Runs the store's expiry sweep on an interval, never two at once. The timer is unref'd so
 * it never keeps the process alive on its own.
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly store: Sweepable,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.intervalMs).unref();
  }

  /** One sweep now (or the one already running); resolves to the number removed. */
  sweep(): Promise<number> {
    this.running ??= this.store
      .deleteExpired()
      .then((removed) => {
        if (removed > 0) this.log.info({ removed }, 'expired uploads removed');
        return removed;
      })
      .catch((err: unknown) => {
        this.log.error({ err }, 'expiry sweep failed');
        return 0;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
