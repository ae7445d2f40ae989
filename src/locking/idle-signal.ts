/**
 * Lets shutdown wait, with a bound, until a locker holds nothing: the locker calls
 * `check()` whenever it may have become idle.
 */
export class IdleSignal {
  private readonly waiters = new Set<() => void>();

  constructor(private readonly isIdle: () => boolean) {}

  check(): void {
    if (this.isIdle()) for (const wake of [...this.waiters]) wake();
  }

  /** Resolves true once idle, or false after `timeoutMs`. */
  wait(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(idle);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
    });
  }
}
