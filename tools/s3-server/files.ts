import fs from 'node:fs';
import { promisify } from 'node:util';

const read = promisify(fs.read);
const write = promisify(fs.write);
const close = promisify(fs.close);

/**
 * Appends `length` bytes of `input` from `start` to `output` (both open descriptors), 1 MiB
 * at a time, calling `onChunk` with each piece (for digests). Closes `input`.
 */
export async function copyRange(
  input: number,
  start: number,
  length: number,
  output: number,
  onChunk: (chunk: Buffer) => void = () => undefined,
): Promise<void> {
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  let position = start;
  let left = length;
  try {
    while (left > 0) {
      const { bytesRead } = await read(input, buffer, 0, Math.min(buffer.length, left), position);
      if (bytesRead === 0) throw new Error('source ended early');
      const chunk = buffer.subarray(0, bytesRead);
      onChunk(chunk);
      let written = 0;
      while (written < bytesRead) written += (await write(output, chunk, written, bytesRead - written)).bytesWritten;
      position += bytesRead;
      left -= bytesRead;
    }
  } finally {
    await close(input);
  }
}

export { close as closeFd };
