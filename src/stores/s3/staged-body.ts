import fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PartFileSplitter, type PartFile } from './part-files.js';

/**
 * Splits a body into part-sized temp files and returns them only once the body has ended
 * without an error; on an error every temp file is removed and the error rethrown. Nothing
 * reaches S3 in here: that is what lets a failed checksum leave S3 untouched.
 */
export async function stageBody(source: Readable, partSize: number): Promise<PartFile[]> {
  const parts: PartFile[] = [];
  try {
    await pipeline(source, new PartFileSplitter(partSize, { onPart: (part) => parts.push(part) }));
    return parts;
  } catch (error) {
    await discardStaged(parts);
    throw error;
  }
}

export async function discardStaged(parts: readonly PartFile[]): Promise<void> {
  await Promise.all(parts.map((p) => fsp.rm(p.path, { force: true })));
}

/** `first` then `second` as one byte stream; an error in either ends it with that error. */
export function joinStreams(first: Readable, second: Readable): Readable {
  async function* both(): AsyncGenerator<Buffer> {
    yield* first;
    yield* second;
  }
  return Readable.from(both(), { objectMode: false });
}
