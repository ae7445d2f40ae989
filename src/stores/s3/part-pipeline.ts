import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sendWholeParts, type DirectPartOptions } from './direct-parts.js';
import { PartFileSplitter, type PartFile } from './part-files.js';

export interface PartPipelineOptions {
  readonly partSize: number;
  readonly minPartSize: number;
  /** The upload's length, when known: the part that reaches it is the last. */
  readonly uploadSize: number | undefined;
  /** Waits for an upload slot; the slot's release() is called when its part is done. */
  acquire(): Promise<{ release(): Promise<void> }>;
  /** Stores a part from its temp file (removed afterwards by the pipeline). */
  uploadPart(part: PartFile, partNumber: number): Promise<unknown>;
  /**
   * The short tail, kept as the `.part` object until the next PATCH. `partNumber`: the number
   * the tail's bytes will have once a later write stores them as a part.
   */
  uploadTail(part: PartFile, partNumber: number): Promise<unknown>;
  /** When the source's length is known: its whole parts go straight to S3 (see direct-parts). */
  readonly direct?: Pick<DirectPartOptions, 'expectedBytes' | 'uploadPart'>;
}

/**
 * A body to S3 as @tus/s3-store does it (part-sized temp files, each uploaded while the
 * next is received, a short tail as `.part`; on a body error the unfinished file is
 * dropped and the finished parts still land), with cheaper I/O: batched temp-file writes
 * and 1 MiB reads towards S3 instead of an awaited write and a socket write per 64 KiB.
 * Resolves to the bytes stored; rejects with the first error once every upload settled.
 */
export async function pipeParts(source: Readable, firstPartNumber: number, offset: number, options: PartPipelineOptions): Promise<number> {
  const uploads: Promise<void>[] = [];
  let partNumber = firstPartNumber;
  let position = offset;
  let stored = 0;
  let slot: { release(): Promise<void> } | undefined;
  const splitter: PartFileSplitter = new PartFileSplitter(options.partSize, {
    beforePart: async () => {
      slot = await options.acquire();
    },
    onAbandon: () => void slot?.release(),
    onPart: (part) => {
      const held = slot;
      const number = partNumber++;
      position += part.size;
      const isLast = position === options.uploadSize;
      const earlier = [...uploads];
      const upload = (async () => {
        try {
          if (part.size >= options.minPartSize || isLast) await options.uploadPart(part, number);
          else {
            // A tail continues the parts before it: written only once every one is stored. After
            // a hole its bytes would not follow the counted ones, and it would replace a tail
            // whose bytes were acknowledged but never got into a part.
            await Promise.all(earlier);
            await options.uploadTail(part, number);
          }
          stored += part.size;
        } catch (error) {
          splitter.destroy(error as Error);
          throw error;
        } finally {
          await fsp.rm(part.path, { force: true });
          await held?.release();
        }
      })();
      // Awaited below; this only keeps an early failure from being reported as unhandled.
      upload.catch(() => undefined);
      uploads.push(upload);
    },
  });
  try {
    let rest = source;
    if (options.direct) {
      const direct = await sendWholeParts(source, partNumber, {
        ...options.direct,
        partSize: options.partSize,
        acquire: options.acquire,
        track: (upload) => {
          const counted = upload.then((bytes) => {
            stored += bytes;
          });
          counted.catch(() => undefined);
          uploads.push(counted);
        },
      });
      partNumber = direct.nextPartNumber;
      position += direct.sent;
      rest = direct.rest;
    }
    await pipeline(rest, splitter);
  } catch (error) {
    uploads.push(Promise.reject(error));
  } finally {
    await Promise.allSettled(uploads);
  }
  await Promise.all(uploads);
  return stored;
}
