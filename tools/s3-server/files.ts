import fs from 'node:fs';
import { promisify } from 'node:util';

const read = promisify(fs.read);
const write = promisify(fs.write);
const close = promisify(fs.close);

/** A run of stored bytes: a whole file. An object is one or more (a completed multipart upload keeps its parts). */
export interface StoredSegment {
  readonly file: string;
  readonly size: number;
}

interface OpenSegment {
  readonly fd: number;
  readonly size: number;
}

/**
 * Opens every segment at once, synchronously: once open, a concurrent replace or delete
 * (which unlinks the files) cannot pull the bytes away from this reader.
 */
export function openSegments(segments: readonly StoredSegment[]): OpenSegment[] {
  return segments.map((s) => ({ fd: fs.openSync(s.file, 'r'), size: s.size }));
}

/** Bytes [start, end) across the open segments, 1 MiB at a time; closes them all at the end. */
export async function* readSegments(open: readonly OpenSegment[], start: number, end: number): AsyncGenerator<Buffer> {
  try {
    let base = 0;
    for (const segment of open) {
      const from = Math.max(start, base);
      const to = Math.min(end, base + segment.size);
      for (let position = from; position < to; ) {
        const buffer = Buffer.allocUnsafe(Math.min(1024 * 1024, to - position));
        const { bytesRead } = await read(segment.fd, buffer, 0, buffer.length, position - base);
        if (bytesRead === 0) throw new Error('stored bytes ended early');
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
      base += segment.size;
    }
  } finally {
    await Promise.all(open.map((s) => close(s.fd).catch(() => undefined)));
  }
}

/** Writes every chunk of `source` to the open descriptor `output`. */
export async function writeAll(source: AsyncIterable<Buffer>, output: number, onChunk: (chunk: Buffer) => void): Promise<void> {
  for await (const chunk of source) {
    onChunk(chunk);
    let written = 0;
    while (written < chunk.length) written += (await write(output, chunk, written, chunk.length - written)).bytesWritten;
  }
}

export { close as closeFd };
