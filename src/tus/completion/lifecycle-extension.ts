import { errors } from '../../errors.js';
import type { TusExtension } from '../extension.js';
import type { HandlerLayer } from '../upstream/handler-layers.js';
import type { Upload } from '@tus/utils';
import type { TusHooks } from '../hooks.js';
import type { UploadStateStore } from '../state/upload-state.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import { requestOf } from '../upstream/direct-body.js';
import { lifecycleOf } from './lifecycle.js';
import type { UploadCompletion } from './upload-completion.js';

export interface LifecycleExtensionParts {
  readonly store: TesseraDataStore;
}

/**
 * Puts the lifecycle where requests meet it: HEAD tells where an upload is (`Tessera-Upload-Status`, the verified `Tessera-Sha256`,
 * and 460 for a failed one so a resuming client learns it at once). HEAD only reads: it
 * never verifies or assembles anything (the request that completes an upload does, or the
 * recovery pass).
 */
export function lifecycleExtension({ store }: LifecycleExtensionParts): TusExtension {
  const head: HandlerLayer = async (call, next) => {
    const res = await next(call);
    const id = call.facts.uploadId;
    if (!id || res.status !== 200) return res;
    const current = await call.facts.addressedState();
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
  const patch: HandlerLayer = async (call, next) => {
    const current = await call.facts.addressedState();
    if (current && current.kind !== 'partial' && current.status === 'failed') {
      throw errors.uploadFailed(current);
    }
    if (current?.kind === 'single' && current.direct === true) throw errors.directUploadPatch();
    return next(call);
  };

  return {
    names: [],
    layers: { HEAD: [head], PATCH: [patch] },
  };
}

interface CreationFacts {
  readonly partial: boolean;
  readonly owner: string | undefined;
}

/**
 * Every upload gets its record (role, owner) right after its data is created. @tus/server hands
 * the creating request to onUploadCreate and then the same Upload object to the store's create,
 * never the request: the creation's facts go from one to the other with that object, explicitly.
 * Finals are created by Tessera itself (final-creation.ts), which writes their record first.
 */
export function creationRecords(completion: UploadCompletion, state: UploadStateStore, onUploadCreate: TusHooks['onUploadCreate']) {
  const creations = new WeakMap<Upload, CreationFacts>();
  const hook: NonNullable<TusHooks['onUploadCreate']> = async (req, upload) => {
    const changes = (await onUploadCreate?.(req, upload)) ?? {};
    const request = requestOf(req);
    if (!request) throw new Error('a creation reached @tus/server without its request');
    creations.set(upload, { partial: request.facts.creatingPartial === true, owner: request.facts.owner });
    return changes;
  };
  const extension: TusExtension = {
    names: [],
    lifecycle: {
      async afterCreate(upload) {
        const facts = creations.get(upload);
        if (facts) return completion.recordCreation(upload.id, facts);
        if (!(await state.get(upload.id))) throw new Error(`upload ${upload.id} was created without its request's facts`);
      },
    },
  };
  return { onUploadCreate: hook, extension };
}
