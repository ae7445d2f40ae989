import { errors } from '../../errors.js';
import type { TusExtension } from '../extension.js';
import type { HandlerLayer } from '../upstream/handler-layers.js';
import { requestContext } from '../request-context.js';
import type { RequestTargets } from '../request-target.js';
import { addressedUploadState } from '../state/addressed-state.js';
import type { UploadStateStore } from '../state/upload-state.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import { lifecycleOf } from './lifecycle.js';
import type { UploadCompletion } from './upload-completion.js';

export interface LifecycleExtensionParts {
  readonly store: TesseraDataStore;
  readonly state: UploadStateStore;
  readonly completion: UploadCompletion;
  readonly targets: RequestTargets;
}

/**
 * Puts the lifecycle where requests meet it: every new upload gets its record at creation,
 * and HEAD tells where an upload is (`Tessera-Upload-Status`, the verified `Tessera-Sha256`,
 * and 460 for a failed one so a resuming client learns it at once). HEAD only reads: it
 * never verifies or assembles anything (the request that completes an upload does, or the
 * recovery pass).
 */
export function lifecycleExtension({ store, state, completion, targets }: LifecycleExtensionParts): TusExtension {
  const head: HandlerLayer = async (req, _context, _headers, next) => {
    const res = await next();
    const id = targets.uploadIdOf(req);
    if (!id || res.status !== 200) return res;
    const current = await addressedUploadState(state, id);
    const status = lifecycleOf(await store.getUpload(id), current);
    res.headers.set('Tessera-Upload-Status', status);
    if (current?.sha256 && (status === 'done' || status === 'failed')) res.headers.set('Tessera-Sha256', current.sha256);
    // The spec: no Upload-Offset on a final until its concatenation has finished.
    if (current?.kind === 'final' && status !== 'done') res.headers.delete('Upload-Offset');
    if (status !== 'failed') return res;
    res.headers.set('Tessera-Error', (current?.kind !== 'partial' && current?.error) || 'failed');
    return new Response(null, { status: 460, headers: res.headers });
  };

  // A failed upload takes no more bytes: its data was dropped and its outcome is final.
  const patch: HandlerLayer = async (req, _context, _headers, next) => {
    const id = targets.uploadIdOf(req);
    const current = id ? await addressedUploadState(state, id) : undefined;
    if (current && current.kind !== 'partial' && current.status === 'failed') {
      throw errors.uploadFailed(current);
    }
    return next();
  };

  return {
    names: [],
    layers: { HEAD: [head], PATCH: [patch] },
    lifecycle: {
      async afterCreate(upload) {
        const ctx = requestContext.getStore();
        await completion.recordCreation(upload.id, { partial: ctx?.creatingPartial === true, owner: ctx?.owner });
      },
    },
  };
}
