import type { Body, Meta, Uppy } from '@uppy/core';
import type {} from '@uppy/tus'; // brings in the `tus` per-file options on UppyFile
import type { PageSettings } from './page-settings.js';
import { sha256OfBlob } from './wasm-hashes.js';

/** The metadata key the server verifies the whole file against (hex SHA-256). */
export const SHA256_META_KEY = 'sha256';

export interface HashedFile {
  readonly fileId: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly milliseconds: number;
}

/**
 * An Uppy pre-processor: before a file's upload starts, streams it through SHA-256 and sets
 * the digest as its `sha256` metadata (sent in Upload-Metadata, verified by the server when
 * the file is complete). Also picks one upload instead of partials for small files.
 */
export function sha256PreProcessor(
  uppy: Uppy<Meta, Body>,
  settings: Pick<PageSettings, 'parallelThreshold'>,
  onHashed: (file: HashedFile) => void,
): (fileIDs: string[]) => Promise<void> {
  return async (fileIDs) => {
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      if (!file || file.isRemote || !(file.data instanceof Blob)) continue;
      const blob = file.data;
      if (blob.size < settings.parallelThreshold) {
        uppy.setFileState(id, { tus: { ...file.tus, parallelUploads: 1 } });
      }
      // A retry runs the pre-processors again: keep the digest (a File whose bytes changed on
      // disk fails to read rather than yielding other bytes).
      if (typeof file.meta[SHA256_META_KEY] === 'string') continue;

      const started = performance.now();
      let shownAt = -Infinity;
      const report = (hashed: number) => {
        // Each event re-renders the Dashboard: a few per second, not one per read.
        const now = performance.now();
        if (now - shownAt < 100 && hashed < blob.size) return;
        shownAt = now;
        uppy.emit('preprocess-progress', uppy.getFile(id), {
          mode: 'determinate',
          message: 'Computing SHA-256…',
          value: blob.size === 0 ? 1 : hashed / blob.size,
        });
      };
      report(0);
      const sha256 = await sha256OfBlob(blob, report);
      uppy.setFileMeta(id, { [SHA256_META_KEY]: sha256 });
      uppy.emit('preprocess-complete', uppy.getFile(id));
      onHashed({ fileId: id, sha256, bytes: blob.size, milliseconds: performance.now() - started });
    }
  };
}
