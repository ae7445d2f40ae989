import { formatBytes } from './results-view.js';

export interface RetryNotice {
  /** 1-based. */
  readonly attempt: number;
  readonly attempts: number;
  readonly delayMs: number;
  /** What went wrong, in a few words. */
  readonly reason: string;
  /** Bytes the server said it holds, over every upload of this page. */
  readonly storedBytes: number;
}

/**
 * One line under the dashboard while uploads retry: that they do, why, when the next try comes,
 * and how much the server already holds (Uppy's bar shows bytes sent, which on a broken link can
 * sit at 100% while nothing arrives). Cleared as soon as the server answers again.
 */
export class ConnectionStatus {
  constructor(private readonly line: HTMLElement) {
    line.hidden = true;
  }

  retrying(notice: RetryNotice): void {
    const when = notice.delayMs > 0 ? `in ${Math.round(notice.delayMs / 1000)} s` : 'now';
    this.line.textContent =
      `Connection trouble (${notice.reason}): retrying ${when}, attempt ${notice.attempt} of ${notice.attempts}. ` +
      `${formatBytes(notice.storedBytes)} stored on the server so far; nothing is lost.`;
    this.line.dataset.state = 'retrying';
    this.line.hidden = false;
  }

  /** The server answered: the trouble is over. */
  clear(): void {
    if (this.line.hidden) return;
    this.line.hidden = true;
    this.line.textContent = '';
    delete this.line.dataset.state;
  }
}

/** A few words on why a request failed: the server's status, or the network error. */
export function reasonOf(error: { message: string; originalResponse?: { getStatus(): number } | null; causingError?: { message?: string } | null }): string {
  const status = error.originalResponse?.getStatus();
  if (status) return `the server answered ${status}`;
  return error.causingError?.message?.split('\n')[0] ?? 'the network failed';
}
