import type { HttpResponse } from 'tus-js-client';
import { reasonOf } from './connection-status.js';
import { formatBytes } from './results-view.js';

export interface UploadFailure {
  /** One line a person can act on. */
  readonly summary: string;
  /** What the server said, verbatim (its bodies are one short line). */
  readonly detail?: string;
  /** The digest the server computed, when it reports one. */
  readonly serverSha256?: string;
  /** The server failed the whole-file SHA-256 check: resuming cannot help, only a fresh upload. */
  readonly wholeFileMismatch?: boolean;
  /** The connection failed: what the server holds is kept, and Retry resumes from there. */
  readonly resumable?: boolean;
}

/** How much of the file the server said it holds, when the page knows. */
export interface StoredSoFar {
  readonly storedBytes: number | undefined;
  readonly size: number | undefined;
}

/** Turns what @uppy/tus reports on `upload-error` into words, using the server's answer. */
export function describeUploadError(error: { message: string }, stored: StoredSoFar = { storedBytes: undefined, size: undefined }): UploadFailure {
  const response = serverResponse(error);
  if (!response) {
    const held =
      stored.storedBytes !== undefined && stored.size !== undefined
        ? `${formatBytes(stored.storedBytes)} of ${formatBytes(stored.size)} are stored on the server`
        : 'what reached the server is kept';
    return { summary: `The connection failed and the retries ran out; ${held}. Press Retry to resume from there.`, detail: reasonOf(error), resumable: true };
  }
  const status = response.getStatus();
  const detail = response.getBody()?.trim() || undefined;
  const serverSha256 = response.getHeader('Tessera-Sha256') || undefined;
  if (status === 460 && response.getHeader('Tessera-Upload-Status') === 'failed') {
    return {
      summary: 'SHA-256 mismatch: the server received other bytes than this browser hashed, so it kept nothing. Upload the file again.',
      detail,
      serverSha256,
      wholeFileMismatch: true,
    };
  }
  if (status === 413) return { summary: 'The file is larger than this server accepts.', detail };
  return { summary: `The server refused the upload (HTTP ${status}).`, detail, serverSha256 };
}

function serverResponse(error: object): HttpResponse | undefined {
  // tus-js-client's DetailedError; @uppy/tus passes it on as is (or wraps it in a NetworkError
  // when there was no answer at all).
  const response = (error as { originalResponse?: HttpResponse | null }).originalResponse;
  return response && typeof response.getStatus === 'function' ? response : undefined;
}
