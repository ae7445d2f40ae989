import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ManagedLocker } from '../locking/managed-locker.js';
import type { UploadStateStore } from '../tus/state/upload-state.js';

/**
 * Everything instances must agree on: who holds an upload's lock, the upload state
 * (concatenation, verification), and where the file store keeps upload info. Embedded:
 * this process and its disk. Shared: Redis.
 */
export interface Coordination {
  readonly mode: 'embedded' | 'redis';
  readonly locker: ManagedLocker;
  readonly state: UploadStateStore;
  /** A request-rate limiter shared by every instance (`points` per minute), if this mode has one. */
  rateLimiter?(points: number): RateLimiterAbstract;
  /** Resolves once connected, or after `timeoutMs` (the server then starts not-ready). */
  connected(timeoutMs: number): Promise<void>;
  checkReady(): Promise<void>;
  close(): Promise<void>;
}
