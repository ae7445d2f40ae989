import type { Upload } from '@tus/utils';
import { expectedSha256 } from '../extensions/integrity/sha256.js';
import type { UploadState } from '../state/upload-state.js';

/**
 * Where an upload is in its life. The one answer to "is it complete?": GET serves only
 * 'done', HEAD reports it, expiry and notifications follow it. Nothing else compares an
 * offset with a size to decide that.
 *
 * | status     | ordinary upload                              | final upload                       |
 * |------------|----------------------------------------------|------------------------------------|
 * | receiving  | bytes still arriving                         | —                                  |
 * | pending    | —                                            | waiting for partials, or assembling|
 * | verifying  | every byte stored, not yet settled (locked)  | —                                  |
 * | done       | verified (or nothing declared to verify)     | assembled and verified             |
 * | failed     | declared sha256 did not match: data dropped  | assembly or verification failed    |
 *
 * A partial is 'receiving' until its last byte and 'done' after: it is not a file of its own
 * and is never verified alone.
 */
export type Lifecycle = 'receiving' | 'pending' | 'verifying' | 'done' | 'failed';

/** Every byte the upload declared is stored (says nothing about verification). */
export function allBytesStored(upload: Upload): boolean {
  return upload.size !== undefined && upload.offset === upload.size;
}

export function lifecycleOf(upload: Upload, state: UploadState | undefined): Lifecycle {
  if (state?.kind === 'final') return state.status;
  if (state?.kind === 'partial') return allBytesStored(upload) ? 'done' : 'receiving';
  if (state?.status === 'done' || state?.status === 'failed') return state.status;
  if (!allBytesStored(upload)) return 'receiving';
  // Complete but not settled: verification is running, or a crash interrupted it. An upload
  // with no record at all was made by an earlier version, which settled uploads without a
  // declared digest without recording it.
  if (state === undefined && expectedSha256Quietly(upload) === undefined) return 'done';
  return 'verifying';
}

/** The declared digest, or undefined (also for a malformed one: creation refused those). */
function expectedSha256Quietly(upload: Upload): string | undefined {
  try {
    return expectedSha256(upload.metadata);
  } catch {
    return undefined;
  }
}
