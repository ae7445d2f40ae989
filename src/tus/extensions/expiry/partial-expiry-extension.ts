import type { TusExtension } from '../../extension.js';
import type { UploadStateStore } from '../../state/upload-state.js';

/**
 * Partials expire like unfinished uploads, even once all their bytes arrived: a partial is not
 * a file of its own. Only a final still waiting for its partials keeps them; once a final is
 * done it holds its own copy of the bytes (on S3 too: UploadPartCopy copies), so its partials
 * would only double the storage until UPLOAD_EXPIRY.
 */
export function partialExpiryExtension(state: UploadStateStore): TusExtension {
  return {
    names: [],
    lifecycle: {
      async expiresWhenComplete(id) {
        const current = await state.get(id);
        if (current?.kind !== 'partial') return false;
        for (const finalId of await state.linkedFinals(id)) {
          const final = await state.get(finalId);
          if (final?.kind === 'final' && final.status === 'pending') return false;
        }
        return true;
      },
    },
  };
}
