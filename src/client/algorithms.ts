/**
 * The algorithms the helper can declare, named as in `Tus-Checksum-Algorithm`. Kept apart
 * from the server's list so this module stays free of Node-only imports.
 */
export const CLIENT_CHECKSUM_ALGORITHMS = ['sha1', 'md5', 'sha256', 'sha512', 'crc32'] as const;

export type ChecksumAlgorithm = (typeof CLIENT_CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CLIENT_CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** An incremental hash: fed piece by piece, digested once. */
export interface IncrementalHash {
  update(data: Uint8Array): void;
  digest(): Uint8Array | Promise<Uint8Array>;
}

/** Makes a hash for an algorithm; plug one in for algorithms a platform lacks (md5 in browsers). */
export type HashFactory = (algorithm: ChecksumAlgorithm) => IncrementalHash | Promise<IncrementalHash>;
