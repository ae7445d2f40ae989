import type { ChecksumAlgorithm } from '../../client/index.js';

/** Everything `tessera upload` was asked to do, validated. */
export interface UploadSettings {
  readonly file: string;
  readonly endpoint: string;
  readonly parallel: number;
  /** Bytes per PATCH; Infinity sends each part in one request. */
  readonly chunkSize: number;
  /** Per-chunk Upload-Checksum; 'auto': crc32 or another the server offers, none if it offers none. */
  readonly checksum: ChecksumAlgorithm | null | 'auto';
  readonly metadata: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly retries: number;
  /** A request with no progress for this long is aborted and resumed; 0: never. */
  readonly stallTimeoutMs: number;
  /** Where resumable upload URLs are kept. */
  readonly stateDir: string;
  readonly resume: boolean;
  readonly json: boolean;
  /** Straight to S3 in presigned parts (S3_DIRECT), not over tus. */
  readonly direct?: boolean;
}
