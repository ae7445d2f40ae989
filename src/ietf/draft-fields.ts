/**
 * The fields of "Resumable Uploads for HTTP" that Tessera reads or writes in tus terms:
 * RFC 9530 digests (`sha-256=:<base64>:`), RFC 6266 file names, RFC 9457 problem details, and the
 * draft's `Upload-Limit` dictionary.
 */

/** RFC 9530 algorithm names → the tus checksum algorithm that is the same digest. */
const DIGEST_ALGORITHMS: Readonly<Record<string, 'sha256' | 'sha512' | 'md5' | 'sha1'>> = { 'sha-256': 'sha256', 'sha-512': 'sha512', md5: 'md5', sha: 'sha1' };

/** A digest of a Content-Digest or Repr-Digest dictionary, first of the algorithms Tessera checks; null when malformed. */
export function digestOf(field: string | undefined, accepted: readonly string[] = Object.keys(DIGEST_ALGORITHMS)): { algorithm: 'sha256' | 'sha512' | 'md5' | 'sha1'; base64: string } | undefined | null {
  if (field === undefined) return undefined;
  const members = new Map<string, string>();
  for (const member of field.split(',')) {
    const match = /^\s*([a-z0-9-]+)\s*=\s*:([A-Za-z0-9+/]*={0,2}):\s*$/.exec(member);
    if (!match) return null;
    members.set(match[1] as string, match[2] as string);
  }
  for (const name of accepted) {
    const base64 = members.get(name);
    const algorithm = DIGEST_ALGORITHMS[name];
    if (base64 !== undefined && algorithm) return { algorithm, base64 };
  }
  return undefined;
}

/** `filename*` (RFC 5987) or `filename` of a Content-Disposition, if any. */
export function fileNameOf(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent((extended[2] as string).trim());
    } catch {
      // Malformed escapes: fall back to the plain parameter.
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(disposition);
  if (!plain) return undefined;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2];
}

/** Problem types of the draft (-04 §Problem Types, -06 adds inconsistent length). */
export const PROBLEM_TYPES = {
  mismatchingOffset: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
  completedUpload: 'https://iana.org/assignments/http-problem-types#completed-upload',
  inconsistentLength: 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length',
} as const;

/** An RFC 9457 problem details body. */
export function problem(type: string, title: string, members: Readonly<Record<string, number | string>> = {}): string {
  return JSON.stringify({ type, title, ...members });
}

/** The `Upload-Limit` dictionary: only the limits there are, `min-size=0` where asked for one that says none. */
export function uploadLimit(limits: { readonly maxSize?: number; readonly minSize?: number; readonly maxAgeS?: number }, ageKey: 'expires' | 'max-age'): string {
  const members: string[] = [];
  if (limits.maxSize !== undefined) members.push(`max-size=${limits.maxSize}`);
  if (limits.minSize !== undefined) members.push(`min-size=${limits.minSize}`);
  if (limits.maxAgeS !== undefined) members.push(`${ageKey}=${Math.max(0, Math.floor(limits.maxAgeS))}`);
  return members.join(', ');
}
