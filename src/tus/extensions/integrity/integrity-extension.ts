import { Metadata } from '@tus/utils';
import { errors } from '../../../errors.js';
import type { TusExtension } from '../../extension.js';
import type { HandlerLayer } from '../../upstream/handler-layers.js';
import { expectedSha256 } from './sha256.js';

/**
 * Whole-file SHA-256: a `sha256` in Upload-Metadata is checked for form when the upload is
 * created (400 at once rather than a surprise at the end); the verification itself runs on
 * completion (see UploadCompletion and FinalAssembler).
 */
export function integrityExtension(): TusExtension {
  const validateOnCreate: HandlerLayer = async (call, next) => {
    const { req } = call;
    const raw = req.headers.get('upload-metadata');
    if (raw) {
      let metadata: Record<string, string | null> | undefined;
      try {
        metadata = Metadata.parse(raw);
      } catch {
        return next(call); // @tus/server answers malformed metadata itself
      }
      const declared = expectedSha256(metadata);
      // Partials are served only as part of their final; a digest on one would never be checked.
      if (declared !== undefined && req.headers.get('upload-concat')?.trim() === 'partial') throw errors.sha256OnPartial();
    }
    return next(call);
  };
  return { names: [], layers: { POST: [validateOnCreate] } };
}
