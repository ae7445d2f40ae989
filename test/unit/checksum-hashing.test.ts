import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { Crc32 } from '../../src/client/crc32.js';
import { nodeHashFactory, webHashFactory } from '../../src/client/platform-hashes.js';
import { CHECKSUM_ALGORITHMS, createDigester } from '../../src/tus/extensions/checksum/algorithms.js';
import { HashingStream } from '../../src/tus/extensions/checksum/hashing-stream.js';

// The standard CRC-32 check value: crc32("123456789") = 0xCBF43926.
const CHECK_INPUT = Buffer.from('123456789');
const CHECK_DIGEST = Buffer.from([0xcb, 0xf4, 0x39, 0x26]);

function reference(algorithm: (typeof CHECKSUM_ALGORITHMS)[number], data: Buffer): Buffer {
  if (algorithm !== 'crc32') return createHash(algorithm).update(data).digest();
  const crc = new Crc32();
  crc.update(data);
  return Buffer.from(crc.digest());
}

describe('server digesters', () => {
  it('crc32 yields the standard check value as 4 big-endian bytes', () => {
    const digester = createDigester('crc32');
    digester.update(CHECK_INPUT.subarray(0, 4));
    digester.update(CHECK_INPUT.subarray(4));
    expect(digester.digest()).toEqual(CHECK_DIGEST);
  });
});

/** Runs `data` (in uneven pieces) through a HashingStream; resolves with what came out. */
async function throughHasher(hasher: HashingStream, data: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const pieces = [data.subarray(0, 1), data.subarray(1, 70_000), data.subarray(70_000)];
  await pipeline(
    Readable.from(pieces),
    hasher,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('HashingStream', () => {
  it('passes bytes through unchanged and digests every algorithm at once', async () => {
    const data = randomBytes(300_000);
    const hasher = new HashingStream(CHECKSUM_ALGORITHMS);
    expect((await throughHasher(hasher, data)).equals(data)).toBe(true);
    expect(hasher.bytes).toBe(data.length);
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      expect(hasher.digest(algorithm), algorithm).toEqual(reference(algorithm, data));
    }
  });

  it('refuses to report an algorithm it did not compute', async () => {
    const hasher = new HashingStream(['sha1']);
    await throughHasher(hasher, randomBytes(10));
    expect(() => hasher.digest('md5')).toThrow(/not computed/);
  });
});

describe('client hashes', () => {
  it('pure-JS crc32 yields the standard check value', () => {
    const crc = new Crc32();
    crc.update(CHECK_INPUT);
    expect(Buffer.from(crc.digest())).toEqual(CHECK_DIGEST);
  });

  it.each(CHECKSUM_ALGORITHMS)('node %s agrees with the server digester over split input', async (algorithm) => {
    const data = randomBytes(100_001);
    const hash = await nodeHashFactory(algorithm);
    hash.update(data.subarray(0, 5));
    hash.update(data.subarray(5));
    expect(Buffer.from(await hash.digest())).toEqual(reference(algorithm, data));
  });

  it.each(['sha1', 'sha256', 'sha512', 'crc32'] as const)('browser (WebCrypto) %s agrees too', async (algorithm) => {
    const data = randomBytes(100_001);
    const hash = await webHashFactory(algorithm);
    hash.update(data.subarray(0, 77));
    hash.update(data.subarray(77));
    expect(Buffer.from(await hash.digest())).toEqual(reference(algorithm, data));
  });

  it('browser md5 explains that it needs a createHash implementation', () => {
    expect(() => webHashFactory('md5')).toThrow(/createHash/);
  });
});
