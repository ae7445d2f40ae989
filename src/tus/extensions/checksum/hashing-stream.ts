import { Transform, type TransformCallback } from 'node:stream';
import { createDigester, type ChecksumAlgorithm, type Digester } from './algorithms.js';

/**
 * Passes bytes through unchanged while hashing them and counting them, so a body is
 * verified as it streams to the store and never held in memory.
 */
export class HashingStream extends Transform {
  private readonly digesters: ReadonlyMap<ChecksumAlgorithm, Digester>;
  private readonly digests = new Map<ChecksumAlgorithm, Buffer>();
  private received = 0;

  /**
   * `verifyAtEnd`, when given, runs once the last byte passed and may fail the stream, so a
   * store that writes all-or-nothing sees an error instead of the end of a bad body.
   */
  constructor(
    algorithms: readonly ChecksumAlgorithm[],
    private readonly verifyAtEnd?: () => Error | undefined,
  ) {
    super();
    this.digesters = new Map(algorithms.map((a) => [a, createDigester(a)]));
  }

  /** Bytes that passed through so far. */
  get bytes(): number {
    return this.received;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const digester of this.digesters.values()) digester.update(chunk);
    this.received += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.verifyAtEnd?.() ?? null);
  }

  /** The digest of everything that passed through; call once the stream has ended. */
  digest(algorithm: ChecksumAlgorithm): Buffer {
    let digest = this.digests.get(algorithm);
    if (!digest) {
      const digester = this.digesters.get(algorithm);
      if (!digester) throw new Error(`${algorithm} was not computed for this body`);
      digest = digester.digest();
      this.digests.set(algorithm, digest);
    }
    return digest;
  }
}
