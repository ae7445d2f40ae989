import fsp from 'node:fs/promises';
import os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StreamSplitter } from '@tus/utils';

/** One part-sized piece of a request body, held in a local temp file. */
export interface StagedChunk {
  readonly path: string;
  readonly size: number;
}

/**
 * Splits a body into part-sized temp files and returns them only once the body has ended
 * without an error; on an error every temp file is removed and the error rethrown. Nothing
 * reaches S3 in here: that is what lets a failed checksum leave S3 untouched.
 */
export async function stageBody(source: Readable, chunkSize: number): Promise<StagedChunk[]> {
  const chunks: StagedChunk[] = [];
  let current: string | undefined;
  const splitter = new StreamSplitter({ chunkSize, directory: os.tmpdir() })
    .on('chunkStarted', (path: string) => {
      current = path;
    })
    .on('chunkFinished', ({ path, size }: StagedChunk) => {
      current = undefined;
      chunks.push({ path, size });
    });
  try {
    await pipeline(source, splitter);
    return chunks;
  } catch (error) {
    await discardStaged([...chunks, ...(current ? [{ path: current, size: 0 }] : [])]);
    throw error;
  }
}

export async function discardStaged(chunks: readonly StagedChunk[]): Promise<void> {
  await Promise.all(chunks.map((c) => fsp.rm(c.path, { force: true })));
}

/** `first` then `second` as one byte stream; an error in either ends it with that error. */
export function joinStreams(first: Readable, second: Readable): Readable {
  async function* both(): AsyncGenerator<Buffer> {
    yield* first;
    yield* second;
  }
  return Readable.from(both(), { objectMode: false });
}
