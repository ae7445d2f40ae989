import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface DataFile {
  readonly path: string;
  readonly size: number;
  /** SHA-256 of the whole file. */
  readonly sha256: Buffer;
  /** SHA-256 of each `chunkSize` slice, in order (the last may be shorter). */
  readonly chunkSha256: readonly Buffer[];
  readonly chunkSize: number;
}

/**
 * Writes `size` incompressible bytes (AES-CTR keystream: fast and random enough for disks and
 * links) and hashes them in the same pass, so digests exist before any timing starts.
 */
export async function makeDataFile(dir: string, name: string, size: number, chunkSize: number): Promise<DataFile> {
  const file = path.join(dir, name);
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
  const zeros = Buffer.alloc(chunkSize);
  const whole = createHash('sha256');
  const chunkSha256: Buffer[] = [];
  const fd = await fs.promises.open(file, 'w');
  try {
    for (let written = 0; written < size; ) {
      const n = Math.min(chunkSize, size - written);
      const block = cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n));
      whole.update(block);
      chunkSha256.push(createHash('sha256').update(block).digest());
      await fd.write(block);
      written += n;
    }
  } finally {
    await fd.close();
  }
  return { path: file, size, sha256: whole.digest(), chunkSha256, chunkSize };
}

/** SHA-256 of a byte range of a file, streamed. */
export async function sha256OfRange(file: string, start: number, length: number): Promise<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { start, end: start + length - 1, highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest();
}

/**
 * Removes the uploads a server stored in its data dir between runs (its top-level files: data
 * and info), so disk use stays bounded. Subdirectories are the server's own (e.g. Tessera's
 * state dir, created once at start): they stay.
 */
export async function removeStoredUploads(dir: string): Promise<void> {
  for (const entry of await fs.promises.readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) await fs.promises.rm(path.join(dir, entry.name), { force: true });
  }
}
