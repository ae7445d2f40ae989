import { createCRC32, createMD5, createSHA1, createSHA256, createSHA512, type IHasher } from 'hash-wasm';
import type { ChecksumAlgorithm, HashFactory } from '../client/index.js';

const CREATORS: Record<ChecksumAlgorithm, () => Promise<IHasher>> = {
  sha1: createSHA1,
  md5: createMD5,
  sha256: createSHA256,
  sha512: createSHA512,
  // Default polynomial: CRC-32 as zlib computes it; hash-wasm's digest is big-endian, as the server expects.
  crc32: () => createCRC32(),
};

/**
 * Per-PATCH checksums with hash-wasm: incremental (WebCrypto's digest would need the whole
 * chunk in one buffer) and covering md5, which WebCrypto lacks.
 */
export const wasmHashFactory: HashFactory = async (algorithm) => {
  const hasher = (await CREATORS[algorithm]()).init();
  return {
    update: (data) => {
      hasher.update(data);
    },
    digest: () => hasher.digest('binary'),
  };
};

/** SHA-256 (hex) of a file or blob, read as a stream: never more than one read in memory. */
export async function sha256OfBlob(blob: Blob, onProgress?: (bytesHashed: number) => void): Promise<string> {
  const hasher = (await createSHA256()).init();
  const reader = blob.stream().getReader();
  let hashed = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hasher.update(value);
      hashed += value.byteLength;
      onProgress?.(hashed);
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    reader.releaseLock();
  }
  return hasher.digest('hex');
}
