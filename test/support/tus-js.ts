import type { Readable } from 'node:stream';
import * as tus from 'tus-js-client';

/** Runs one tus-js-client upload to the end; resolves with its URL, rejects with its error. */
export function uploadWithTusJs(source: Buffer | Readable, options: tus.UploadOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      retryDelays: [],
      ...options,
      onSuccess: () => resolve(upload.url ?? ''),
      onError: reject,
    });
    upload.start();
  });
}
