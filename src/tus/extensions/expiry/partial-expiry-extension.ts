import type { TusExtension } from '../../extension.js';
import type { UploadStateStore } from '../../state/upload-state.js';

/**
 * Partials that were never concatenated expire like unfinished uploads, even once all their
 * bytes arrived: a partial is not a file of its own, so without a final it is garbage. A
 * partial some live final (pending or done) references is kept; one whose finals all
 * failed or are gone is not.
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
          if (final?.kind === 'final' && final.status !== 'failed') return false;
        }
        return true;
      },
    },
  };
}
