import type { Logger } from '../logging/logger.js';

/**
 * Runs one background pass on an interval, never two at once. The timer is unref'd so it
 * never keeps the process alive on its own.
 */
export class PeriodicPass {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    /** Does one pass; resolves to how many uploads it acted on. */
    private readonly pass: () => Promise<number>,
    private readonly intervalMs: number,
    private readonly log: Logger,
    /** Names the pass in the log (e.g. 'expiry sweep'). */
    private readonly name: string,
  ) {}

  /** Starts the interval; with `now`, runs a first pass at once. */
  start(options: { now?: boolean } = {}): void {
    this.timer ??= setInterval(() => void this.run(), this.intervalMs).unref();
    if (options.now) void this.run();
  }

  /** One pass now (or the one already running); resolves to the number acted on. */
  run(): Promise<number> {
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.log.error({ err }, `${this.name} failed`);
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
