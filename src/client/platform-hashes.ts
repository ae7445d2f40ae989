import type { ChecksumAlgorithm, HashFactory, IncrementalHash } from './algorithms.js';
import { Crc32 } from './crc32.js';

type NodeCrypto = typeof import('node:crypto');
type NodeZlib = typeof import('node:zlib');
// WebCrypto's types without pulling the DOM lib into a Node project.
type SubtleCrypto = NodeCrypto['webcrypto']['subtle'];

/** True on Node.js (also under bundlers that polyfill an empty `process`). */
export function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/**
 * Loads a Node built-in only when running on Node. The specifier is a variable and the
 * comments opt out of bundler resolution, so browser builds never try to include it.
 */
export function importNodeBuiltin<T>(name: string): Promise<T> {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ name) as Promise<T>;
}

const WEBCRYPTO_NAMES: Partial<Record<ChecksumAlgorithm, string>> = {
  sha1: 'SHA-1',
  sha256: 'SHA-256',
  sha512: 'SHA-512',
};

/** Node: node:crypto (streaming) and zlib.crc32 (pure JS before Node 20.15). */
export const nodeHashFactory: HashFactory = async (algorithm) => {
  if (algorithm === 'crc32') {
    const zlib = await importNodeBuiltin<NodeZlib>('node:zlib');
    return typeof zlib.crc32 === 'function' ? new ZlibCrc32(zlib.crc32) : new Crc32();
  }
  const { createHash } = await importNodeBuiltin<NodeCrypto>('node:crypto');
  return createHash(algorithm);
};

/**
 * Browsers: WebCrypto for the SHA family (one-shot, so the pieces of one chunk are held
 * until the digest), pure-JS CRC-32, and no md5 (WebCrypto has none: pass `createHash`).
 */
export const webHashFactory: HashFactory = (algorithm) => {
  if (algorithm === 'crc32') return new Crc32();
  const name = WEBCRYPTO_NAMES[algorithm];
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (!name || !subtle) {
    throw new Error(
      `tus checksum: ${algorithm} is not available here (WebCrypto has no md5, and needs a ` +
        'secure context: https or localhost); pass `createHash` or choose sha256',
    );
  }
  return new WebCryptoHash(subtle, name);
};

export const defaultHashFactory: HashFactory = (algorithm) =>
  isNode() ? nodeHashFactory(algorithm) : webHashFactory(algorithm);

class ZlibCrc32 implements IncrementalHash {
  private value = 0;

  constructor(private readonly crc32: NodeZlib['crc32']) {}

  update(data: Uint8Array): void {
    this.value = this.crc32(data, this.value);
  }

  digest(): Uint8Array {
    const v = this.value >>> 0;
    return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  }
}

class WebCryptoHash implements IncrementalHash {
  private readonly pieces: Uint8Array[] = [];

  constructor(
    private readonly subtle: SubtleCrypto,
    private readonly name: string,
  ) {}

  update(data: Uint8Array): void {
    this.pieces.push(data);
  }

  async digest(): Promise<Uint8Array> {
    const whole = this.pieces.length === 1 ? (this.pieces[0] as Uint8Array) : concat(this.pieces);
    return new Uint8Array(await this.subtle.digest(this.name, whole as Uint8Array<ArrayBuffer>));
  }
}

export function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
