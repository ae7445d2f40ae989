import type http from 'node:http';
import * as tus from 'tus-js-client';

export interface TusJsOptions {
  readonly endpoint: string;
  /** tus-js-client needs a Buffer (not a stream) when parallelUploads is used. */
  readonly data: Buffer;
  readonly parallelUploads?: number;
  readonly metadata?: Record<string, string>;
  /** The connections this upload may use; a fresh agent means no warm sockets from a previous run. */
  readonly agent: http.Agent;
  readonly timeoutMs: number;
  /** Observers of each request (e.g. to time the final POST), passed to tus-js-client as given. */
  readonly onBeforeRequest?: tus.UploadOptions['onBeforeRequest'];
  readonly onAfterResponse?: tus.UploadOptions['onAfterResponse'];
}

/**
 * One upload with the real client, resolved with its URL. Retries are off: a benchmark must
 * count a failure as a failure, not hide it behind a retry.
 */
export function tusJsUpload(options: TusJsOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(options.data, {
      endpoint: options.endpoint,
      retryDelays: null,
      parallelUploads: options.parallelUploads ?? 1,
      metadata: options.metadata ?? {},
      storeFingerprintForResuming: false,
      httpStack: new tus.DefaultHttpStack({ agent: options.agent }),
      ...(options.onBeforeRequest ? { onBeforeRequest: options.onBeforeRequest } : {}),
      ...(options.onAfterResponse ? { onAfterResponse: options.onAfterResponse } : {}),
      onError: (error) => {
        clearTimeout(timer);
        reject(error);
      },
      onSuccess: () => {
        clearTimeout(timer);
        if (upload.url) resolve(upload.url);
        else reject(new Error('tus-js-client succeeded without an upload URL'));
      },
    });
    const timer = setTimeout(() => {
      void upload.abort();
      reject(new Error(`tus-js-client upload timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    upload.start();
  });
}
