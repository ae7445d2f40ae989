import * as tus from 'tus-js-client';
import { withAdaptiveChunks, withChecksum, withStallWatchdog, type ChecksumAlgorithm, type ChunkSizeChange } from '../../client/index.js';
import { classifyUploadError, CliFailure } from './failure.js';
import { FileRange, fileRangeFingerprint, fileRangeReader, type SizedReadStream } from './file-range.js';
import { retryPolicy, type RetryNotice } from './retry-policy.js';
import type { UploadSettings } from './settings.js';
import { trackingStack } from './tracking-stack.js';
import type { TransferTracker } from './transfer-tracker.js';
import type { FileUrlStore } from './url-store.js';

export interface TransferPlan {
  readonly settings: UploadSettings;
  /** Absolute path. */
  readonly file: string;
  readonly size: number;
  readonly fingerprint: string;
  readonly boundaries: readonly { start: number; end: number }[];
  /** Upload-Checksum on every chunk, with this algorithm (none: null). */
  readonly checksum: ChecksumAlgorithm | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** The whole file's SHA-256 (hex), sent with the POST that creates the file's upload. */
  readonly sha256: Promise<string>;
  readonly store: FileUrlStore;
  readonly resumeFrom: tus.PreviousUpload | undefined;
  readonly tracker: TransferTracker;
  readonly retryDelays: number[];
  readonly onRetry: (notice: RetryNotice) => void;
  /** A part's chunks got smaller (cut short, damaged, stalled) or grew back. */
  readonly onChunkSizeChange: (change: ChunkSizeChange) => void;
  /** Rejects the transfer (after aborting its requests) with what it resolves to. */
  readonly stop: Promise<CliFailure>;
}

/**
 * Moves the bytes with tus-js-client: one upload, or `boundaries.length` partials and a
 * final (its parallelUploads), stored in the URL store for resuming. Resolves with the
 * upload URL once the server accepted the last byte (or assembled the final).
 */
export function transfer(plan: TransferPlan): Promise<string> {
  const { settings, size, tracker } = plan;
  const parts = plan.boundaries.length;
  // Outermost first: chunks cut shorter when the link needs it (FileRange slices), progress
  // tracking, the checksum of exactly the bytes sent, and the stall watchdog next to the wire
  // (hashing a chunk before it goes is no stall; the answer gets 4 stall timeouts).
  const base = new tus.DefaultHttpStack({});
  const watched = settings.stallTimeoutMs > 0 ? withStallWatchdog(base, { stallTimeoutMs: settings.stallTimeoutMs }) : base;
  const wire = plan.checksum ? withChecksum(watched, { algorithm: plan.checksum, adaptiveChunks: false, stallTimeoutMs: false }) : watched;
  const httpStack = withAdaptiveChunks(trackingStack(wire, tracker), { onChunkSizeChange: plan.onChunkSizeChange });
  return new Promise<string>((resolve, reject) => {
    // tus-js-client's typings name only browser and Buffer inputs; its fileReader option
    // accepts anything the reader understands, here a FileRange.
    const input = new FileRange(plan.file, 0, size, plan.fingerprint) as unknown as SizedReadStream & Buffer;
    const upload = new tus.Upload(input, {
      endpoint: settings.endpoint,
      chunkSize: settings.chunkSize,
      retryDelays: plan.retryDelays,
      parallelUploads: parts,
      parallelUploadBoundaries: parts > 1 ? [...plan.boundaries] : null,
      metadata: { ...plan.metadata },
      headers: { ...settings.headers },
      fileReader: fileRangeReader,
      fingerprint: fileRangeFingerprint,
      urlStorage: plan.store,
      storeFingerprintForResuming: settings.resume,
      removeFingerprintOnSuccess: false,
      httpStack,
      onBeforeRequest: async (req) => {
        // Partials carry no file metadata; the upload that is the file does, with its digest.
        if (req.getMethod() !== 'POST' || req.getHeader('Upload-Concat') === 'partial') return;
        req.setHeader('Upload-Metadata', encodeMetadata({ ...plan.metadata, sha256: await plan.sha256 }));
      },
      onShouldRetry: retryPolicy(plan.onRetry),
      onSuccess: () => resolve(upload.url ?? ''),
      onError: (error) => reject(classifyUploadError(error, { endpoint: settings.endpoint, size, retries: settings.retries, checksum: plan.checksum })),
    });
    void plan.stop.then((failure) => {
      void upload.abort();
      reject(failure);
    });
    if (plan.resumeFrom) upload.resumeFromPreviousUpload(plan.resumeFrom);
    upload.start();
  });
}

/** Upload-Metadata as tus-js-client encodes it: `key base64(utf-8 value)`, comma-separated. */
function encodeMetadata(metadata: Readonly<Record<string, string>>): string {
  return Object.entries(metadata)
    .map(([key, value]) => `${key} ${Buffer.from(value, 'utf8').toString('base64')}`)
    .join(',');
}
