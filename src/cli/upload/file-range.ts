import fs from 'node:fs';
import type { FileReader, FileSource, SliceResult } from 'tus-js-client';

/** A file's bytes as a stream that also tells tus-js-client's Node stack its Content-Length. */
export type SizedReadStream = fs.ReadStream & { size: number };

/**
 * A byte range of a file on disk, opened only when it is sent. It is what tus-js-client
 * sees as the "file", as each parallel part, and as each chunk: nothing is read until a
 * request needs it, and never more than that request's body.
 */
export class FileRange {
  constructor(
    readonly path: string,
    readonly start: number,
    readonly end: number,
    /** Set on the whole file only: the key its upload URLs are stored under. */
    readonly fingerprint?: string,
  ) {}

  get size(): number {
    return this.end - this.start;
  }

  /** Bytes `start` to `end` of this range (as Blob.slice): how a chunk is cut shorter (see withAdaptiveChunks). */
  slice(start: number, end: number): FileRange {
    return new FileRange(this.path, this.start + start, Math.min(this.end, this.start + end));
  }

  /** A fresh stream over exactly this range (fs `end` is inclusive). */
  open(): SizedReadStream {
    const stream = fs.createReadStream(this.path, { start: this.start, end: this.end - 1 }) as SizedReadStream;
    stream.size = this.size;
    return stream;
  }
}

class FileRangeSource implements FileSource {
  readonly size: number;

  constructor(private readonly range: FileRange) {
    this.size = range.size;
  }

  async slice(start: number, end: number): Promise<SliceResult> {
    const stop = Math.min(end, this.size);
    return { value: new FileRange(this.range.path, this.range.start + start, this.range.start + stop), done: stop >= this.size };
  }

  close(): void {
    // Ranges hold no descriptors: each request opens and closes its own stream.
  }
}

/**
 * tus-js-client's `fileReader` for FileRange inputs. tus-js-client cannot combine
 * `parallelUploads` with `uploadSize`, so a plain stream source is out; slicing ranges on
 * demand keeps memory flat whatever the file size.
 */
export const fileRangeReader: FileReader = {
  async openFile(input: unknown): Promise<FileSource> {
    if (!(input instanceof FileRange)) {
      throw new TypeError(`tessera: expected a FileRange, got ${typeof input}`);
    }
    return new FileRangeSource(input);
  },
};

/** The fingerprint tus-js-client stores URLs under: only the whole file has one. */
export async function fileRangeFingerprint(input: unknown): Promise<string> {
  // tus-js-client also fingerprints each parallel part; those are never stored, and null
  // is what its own fingerprinters answer for inputs they cannot key.
  return (input instanceof FileRange ? input.fingerprint : undefined) ?? (null as unknown as string);
}

/** Where tus-js-client splits a file into `count` parts (the same rule as its own). */
export function splitIntoParts(size: number, count: number): { start: number; end: number }[] {
  const partSize = Math.floor(size / count);
  return Array.from({ length: count }, (_, i) => ({ start: partSize * i, end: i === count - 1 ? size : partSize * (i + 1) }));
}
