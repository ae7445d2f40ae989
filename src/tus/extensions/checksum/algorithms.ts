import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The algorithms Tessera verifies, in the order advertised by `Tus-Checksum-Algorithm`. */
export const CHECKSUM_ALGORITHMS = ['sha1', 'md5', 'sha256', 'sha512', 'crc32'] as const;

export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Digest size in bytes: a declared digest of another size is malformed, not a mismatch. */
export const DIGEST_LENGTH: Readonly<Record<ChecksumAlgorithm, number>> = {
  sha1: 20,
  md5: 16,
  sha256: 32,
  sha512: 64,
  crc32: 4,
};

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** An incremental hash fed as bytes stream past; `digest()` is called once. */
export interface Digester {
  update(chunk: Buffer): void;
  digest(): Buffer;
}

export function createDigester(algorithm: ChecksumAlgorithm): Digester {
  return algorithm === 'crc32' ? new Crc32Digester() : createHash(algorithm);
}

/** CRC-32 (IEEE, as zlib/gzip) continued chunk by chunk; the digest is the 4-byte big-endian value. */
class Crc32Digester implements Digester {
  private value = 0;

  update(chunk: Buffer): void {
    this.value = crc32(chunk, this.value);
  }

  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0);
    return out;
  }
}
