/**
 * Client-side helpers for Tessera's checksum extension, for tus-js-client and @uppy/tus.
 * Browser-safe: Node built-ins are loaded only when running on Node.
 */
export { withChecksum, DEFAULT_STALL_TIMEOUT_MS, type ChecksumOptions } from './checksum-http-stack.js';
export { withAdaptiveChunks, DEFAULT_MIN_CHUNK_SIZE, type AdaptiveChunkOptions, type ChunkSizeChange, type ChunkSizeReason } from './adaptive-chunks.js';
export { withStallWatchdog, StalledRequestError, ANSWER_TIMEOUT_IN_STALL_TIMEOUTS, type StallWatchdogOptions } from './stall-watchdog.js';
export { retryOnChecksumMismatch, isChecksumMismatch } from './retry.js';
export {
  CLIENT_CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  type HashFactory,
  type IncrementalHash,
} from './algorithms.js';
export { defaultHashFactory, nodeHashFactory, webHashFactory } from './platform-hashes.js';
