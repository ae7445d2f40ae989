import { createHash } from 'node:crypto';
import fs from 'node:fs';

/**
 * The SHA-256 (hex) of a whole file in one streaming pass (1 MiB reads; memory stays
 * flat), reporting how far it got.
 */
export async function sha256OfFile(file: string, onProgress?: (hashed: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let hashed = 0;
  for await (const piece of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(piece as Buffer);
    hashed += (piece as Buffer).length;
    onProgress?.(hashed);
  }
  return hash.digest('hex');
}
