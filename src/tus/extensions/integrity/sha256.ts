import { createHash, type Hash } from 'node:crypto';
import { errors } from '../../../errors.js';

/** The metadata key a client declares the whole file's SHA-256 under. */
export const SHA256_METADATA_KEY = 'sha256';

/**
 * The expected digest (hex) declared in upload metadata, as hex or base64 of the 32 bytes;
 * undefined when none is declared; a 400 when it is not a SHA-256 digest.
 */
export function expectedSha256(metadata: Record<string, string | null> | undefined): string | undefined {
  const raw = metadata?.[SHA256_METADATA_KEY]?.trim();
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (/^[0-9a-f]{64}$/i.test(raw)) return raw.toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=?$/.test(raw) || /^[A-Za-z0-9_-]{43}$/.test(raw)) {
    const bytes = Buffer.from(raw, raw.includes('-') || raw.includes('_') ? 'base64url' : 'base64');
    if (bytes.length === 32) return bytes.toString('hex');
  }
  throw errors.invalidSha256();
}

/** SHA-256 (hex) of everything a stream yields, read once, never held in memory. */
export async function sha256OfStream(stream: AsyncIterable<Buffer>): Promise<string> {
  const hash: Hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest('hex');
}

