import { Upload } from 'tus-js-client';

/**
 * Works around tus-js-client 4.3.1: `abort()` sets an internal `_aborted` flag that only the
 * single-upload path clears on `start()`. With `parallelUploads`, an upload paused and resumed
 * (Uppy's pause button is abort + start) keeps the flag, and every later error — a partial
 * giving up, or the final's 460 for a whole-file SHA-256 mismatch — is dropped silently: the
 * page would sit at "Uploading: 100%" forever. Clearing it on every start, as the
 * single-upload path does, restores error reporting and the retries that follow from it.
 */
type WithAbortFlag = { _aborted?: boolean };

const originalStart = Upload.prototype.start;
Upload.prototype.start = function startClearingAbort(this: Upload): void {
  (this as unknown as WithAbortFlag)._aborted = false;
  originalStart.call(this);
};
