import fsp from 'node:fs/promises';
import { ERRORS } from '@tus/utils';
import { errors } from '../../../errors.js';
import type { TusExtension } from '../../extension.js';
import type { HandlerLayer } from '../../upstream/handler-layers.js';
import type { WriteGuard } from '../../tessera-datastore.js';

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Below this many free bytes, a write that failed for no reason we can see is blamed on the
 * disk: one chunk's worth, so a file system that refuses a write it cannot fit whole still
 * counts as full.
 */
const NEARLY_FULL_BYTES = 1024 * 1024;

function isNoSpace(error: unknown): boolean {
  return NO_SPACE_CODES.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

export interface StorageFullOptions {
  /** The data directory whose file system is asked for free space. */
  readonly directory: string;
  /** Free bytes left for this process; fs.statfs by default (tests may replace it). */
  readonly freeBytes?: (directory: string) => Promise<number>;
}

async function statfsFreeBytes(directory: string): Promise<number> {
  const stats = await fsp.statfs(directory);
  return stats.bavail * stats.bsize;
}

/**
 * A full disk answers 507 Insufficient Storage instead of a bare 500. @tus/file-store turns
 * every write failure into a generic FILE_WRITE_ERROR, so the write guard looks at the real
 * cause where it can (the store's pipeline destroys our body stream with the write error)
 * and otherwise asks the file system how much space is left. Creation paths that fail on
 * an ENOSPC (upload info, upload state) are mapped by the layer. The bytes written before
 * the disk filled stay: the offset says how far the upload got, and it resumes from there
 * once space is freed.
 *
 * Register it after the checksum extension, so its guard runs inside the checksum guard
 * and measures the disk before a failed chunk is rolled back (which frees space).
 */
export function storageFullExtension(options: StorageFullOptions): TusExtension {
  const freeBytes = options.freeBytes ?? statfsFreeBytes;
  const looksFull = async () => {
    try {
      return (await freeBytes(options.directory)) < NEARLY_FULL_BYTES;
    } catch {
      return false;
    }
  };

  const guard: WriteGuard = async (write, stream) => {
    let streamError: unknown;
    const onError = (error: unknown) => {
      streamError ??= error;
    };
    stream.on('error', onError);
    try {
      return await write(stream);
    } catch (error) {
      if (isNoSpace(streamError) || isNoSpace(error)) throw errors.storageFull();
      // A body that failed on its own (client gone) is not the disk's fault.
      if (error === ERRORS.FILE_WRITE_ERROR && streamError === undefined && (await looksFull())) throw errors.storageFull();
      throw error;
    } finally {
      stream.off('error', onError);
    }
  };

  const mapNoSpace: HandlerLayer = async (call, next) => {
    try {
      return await next(call);
    } catch (error) {
      throw isNoSpace(error) ? errors.storageFull() : error;
    }
  };

  return { names: [], layers: { POST: [mapNoSpace], PATCH: [mapNoSpace] }, writeGuards: [guard] };
}
