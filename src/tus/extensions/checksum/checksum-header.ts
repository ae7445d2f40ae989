import { DIGEST_LENGTH, isChecksumAlgorithm, type ChecksumAlgorithm } from './algorithms.js';
import { errors } from '../../../errors.js';

export interface DeclaredChecksum {
  readonly algorithm: ChecksumAlgorithm;
  readonly digest: Buffer;
}

// Canonical padded base64 only: Buffer.from() would silently accept (and drop) anything else.
const reBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parses `Upload-Checksum: <algorithm> <base64 digest>`. Throws a 400 `TusError` for an
 * unsupported algorithm or anything malformed (including a digest of the wrong size).
 */
export function parseUploadChecksum(value: string): DeclaredChecksum {
  const parts = value.trim().split(' ');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw errors.malformedChecksum('expected "<algorithm> <base64 digest>"');
  }
  const [name, encoded] = parts as [string, string];
  const algorithm = name.toLowerCase();
  if (!isChecksumAlgorithm(algorithm)) throw errors.unsupportedChecksumAlgorithm(name);
  if (!reBase64.test(encoded)) throw errors.malformedChecksum('digest is not base64');
  const digest = Buffer.from(encoded, 'base64');
  if (digest.length !== DIGEST_LENGTH[algorithm]) {
    throw errors.malformedChecksum(`a ${algorithm} digest is ${DIGEST_LENGTH[algorithm]} bytes, got ${digest.length}`);
  }
  return { algorithm, digest };
}

/** True when the `Trailer` request header announces an `Upload-Checksum` trailer. */
export function announcesChecksumTrailer(trailerHeader: string | null): boolean {
  if (!trailerHeader) return false;
  return trailerHeader.split(',').some((name) => name.trim().toLowerCase() === 'upload-checksum');
}
