import type { TusExtension } from '../../extension.js';
import { checksumWriteGuard, type ChunkDiscarder, type OnDiscarded } from './checksum-guard.js';
import { checksumOptionsLayer, checksumUploadLayer } from './checksum-layers.js';

export { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from './algorithms.js';
export { parseUploadChecksum, type DeclaredChecksum } from './checksum-header.js';
export type { ChunkDiscarder, DiscardReason, OnDiscarded } from './checksum-guard.js';

/**
 * The tus `checksum` and `checksum-trailer` extensions: `Tus-Checksum-Algorithm` on
 * OPTIONS, header validation on PATCH and POST (creation-with-upload), and a write guard
 * that verifies each body as it streams and discards it (via `store`) when it fails.
 */
export function checksumExtension(store: ChunkDiscarder, onDiscarded?: OnDiscarded): TusExtension {
  return {
    names: ['checksum', 'checksum-trailer'],
    layers: { OPTIONS: [checksumOptionsLayer], PATCH: [checksumUploadLayer], POST: [checksumUploadLayer] },
    writeGuards: [checksumWriteGuard(store, onDiscarded)],
  };
}
