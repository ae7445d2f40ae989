import { requestContext } from '../request-context.js';
import type { UploadState, UploadStateStore } from './upload-state.js';

const reads = new WeakMap<object, Promise<UploadState | undefined>>();

/**
 * The state of the upload a request addresses, read once per request: the layers in front
 * of a handler (ownership, concatenation) all ask, and each read is a file or Redis round
 * trip. Only for layers that run before the handler changes anything.
 */
export function addressedUploadState(store: UploadStateStore, id: string): Promise<UploadState | undefined> {
  const ctx = requestContext.getStore();
  if (!ctx) return store.get(id);
  let read = reads.get(ctx);
  if (!read) {
    read = store.get(id);
    reads.set(ctx, read);
  }
  return read;
}
