import type { Logger } from '../logging/logger.js';
import { PeriodicPass } from './periodic-pass.js';

export interface Sweepable {
  deleteExpired(): Promise<number>;
}

/** Runs the store's expiry sweep on an interval (see PeriodicPass). */
export class ExpirySweeper extends PeriodicPass {
  constructor(store: Sweepable, intervalMs: number, log: Logger) {
    super(
      async () => {
        const removed = await store.deleteExpired();
        if (removed > 0) log.info({ removed }, 'expired uploads removed');
        return removed;
      },
      intervalMs,
      log,
      'expiry sweep',
    );
  }

  /** One sweep now (or the one already running); resolves to the number removed. */
  sweep(): Promise<number> {
    return this.run();
  }
}
