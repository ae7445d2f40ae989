import type { IncrementalHash } from './algorithms.js';

// CRC-32 as in zlib/gzip (reflected polynomial 0xEDB88320), for runtimes without zlib.
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Pure-JS CRC-32; the digest is the 4-byte big-endian value, as the server expects. */
export class Crc32 implements IncrementalHash {
  private crc = 0xffffffff;

  update(data: Uint8Array): void {
    let c = this.crc;
    for (let i = 0; i < data.length; i += 1) {
      c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    }
    this.crc = c;
  }

  digest(): Uint8Array {
    const value = (this.crc ^ 0xffffffff) >>> 0;
    return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
  }
}
