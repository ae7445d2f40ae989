import type { Locker } from '@tus/utils';

/** A Locker the server can drain and stop on shutdown. */
export interface ManagedLocker extends Locker {
  /** Locks currently held by this instance. */
  readonly heldCount: number;
  /** Resolves true once no lock is held, or false after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<boolean>;
  /** Releases what is held and closes connections. */
  close?(): Promise<void>;
}
