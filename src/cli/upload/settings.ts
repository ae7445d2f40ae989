import type { ChecksumAlgorithm } from '../../client/index.js';

/** Everything `tessera upload` was asked to do, validated. */
export interface UploadSettings {
  readonly file: string;
  readonly endpoint: string;
  readonly parallel: number;
  /** Bytes per PATCH; Infinity sends each part in one request. */
  readonly chunkSize: number;
  readonly checksum: ChecksumAlgorithm | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly retries: number;
  /** Where resumable upload URLs are kept. */
  readonly stateDir: string;
  readonly resume: boolean;
  readonly json: boolean;
}
