import type { Readable } from 'node:stream';
import type { DataStore } from '@tus/utils';

/**
 * What Tessera needs from a storage backend beyond @tus/utils' DataStore: the narrow set
 * of capabilities the extensions (checksum rollback, assembly, expiry) are built on.
 */
export interface StoreAdapter {
  readonly kind: 'file' | 's3';
  /** The @tus store that does the actual I/O. */
  readonly datastore: DataStore;
  /** Ids of every upload the store knows, for expiry sweeps. */
  listUploadIds(): Promise<string[]>;
  /** Drops every stored byte at and after `offset` (a chunk that failed verification). */
  truncate(id: string, offset: number): Promise<void>;
  /** Streams an upload's stored bytes from the start. */
  read(id: string): Readable | Promise<Readable>;
  /** Throws when the store cannot take writes (readiness). */
  checkWritable(): Promise<void>;
}
