import type { Upload } from '@tus/utils';
import type { HandlerLayer } from './upstream/handler-layers.js';
import type { WriteGuard } from './tessera-datastore.js';

export type Method = 'GET' | 'HEAD' | 'OPTIONS' | 'PATCH' | 'POST' | 'DELETE';

/** Store-side events an extension may keep its own records in step with. */
export interface UploadLifecycle {
  afterCreate?(upload: Upload): Promise<void>;
  afterRemove?(id: string): Promise<void>;
  /**
   * Whether a finished upload still expires like an unfinished one (a partial that no final
   * ever used). Finished uploads are kept otherwise.
   */
  expiresWhenComplete?(id: string): Promise<boolean>;
}

/**
 * One tus capability added around @tus/server: the names it advertises in Tus-Extension,
 * the handler layers it puts in front of methods, and the store hooks it needs. The
 * composition root merges these; nothing else knows which extensions exist.
 */
export interface TusExtension {
  readonly names: readonly string[];
  readonly layers?: Partial<Record<Method, readonly HandlerLayer[]>>;
  readonly writeGuards?: readonly WriteGuard[];
  readonly lifecycle?: UploadLifecycle;
}
