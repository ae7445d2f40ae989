import type { ChildProcess } from 'node:child_process';

export interface EntryFeed<T> {
  /** Entries parsed from the child's output so far. */
  readonly entries: readonly T[];
  /** Called (all of them) whenever entries grow or the child exits. */
  readonly listeners: Set<() => void>;
  readonly child: ChildProcess;
  readonly stderr: () => string;
}

/**
 * Resolves with the first entry that matches, failing fast when the child exits first and
 * after `timeoutMs` otherwise; `what` names the awaited entry in the error.
 */
export function waitForEntry<T>(feed: EntryFeed<T>, match: (entry: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const { child } = feed;
    const check = () => {
      const found = feed.entries.find(match);
      if (found !== undefined) {
        finish();
        resolve(found);
      } else if (child.exitCode !== null || child.signalCode !== null) {
        finish();
        reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr: ${feed.stderr()}`));
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no ${what} within ${timeoutMs} ms; stderr: ${feed.stderr()}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      feed.listeners.delete(check);
    };
    feed.listeners.add(check);
    check();
  });
}
