import type { DetailedError } from 'tus-js-client';
import { isChecksumMismatch } from '../client/index.js';

/**
 * Resend a chunk the server rejected with 460 (it discarded the damaged bytes, so a resend
 * after the usual HEAD is safe), but not a 460 for the whole file (`Tessera-Upload-Status:
 * failed`): the file itself differs from its declared SHA-256 and no retry can fix that.
 */
export function isChunkChecksumMismatch(err: DetailedError): boolean {
  return isChecksumMismatch(err) && err.originalResponse?.getHeader('Tessera-Upload-Status') !== 'failed';
}
