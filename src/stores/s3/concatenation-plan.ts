import { S3_LIMITS, type S3Limits } from './s3-limits.js';

/** Bytes [start, end) of source `source` (an index into the partials). */
export interface Segment {
  readonly source: number;
  readonly start: number;
  readonly end: number;
}

/**
 * One part of the final object. A part with one segment is copied inside S3
 * (UploadPartCopy); a part with several is streamed through the server (UploadPart),
 * which S3's minimum part size forces when a partial smaller than 5 MiB is not the last.
 */
export interface PlannedPart {
  readonly partNumber: number;
  readonly size: number;
  readonly segments: readonly Segment[];
}

export interface ConcatenationPlan {
  readonly parts: readonly PlannedPart[];
  readonly size: number;
  /** Bytes copied inside S3. */
  readonly copiedBytes: number;
  /** Bytes that have to travel S3 → server → S3. */
  readonly streamedBytes: number;
}

export class ConcatenationLimitError extends Error {
  override readonly name = 'ConcatenationLimitError';
}

/**
 * Lays the partials (by size, in order) out as multipart parts so that as many bytes as
 * possible are copied inside S3. Rules: every part but the last is ≥ minPartSize and every
 * part ≤ maxPartSize; at most maxParts parts; at most maxObjectSize bytes.
 *
 * Greedy, left to right. A partial ≥ minPartSize is copied whole (split evenly when it is
 * larger than maxPartSize). Smaller ones collect in a pending part that is topped up with
 * just enough bytes of the next partial to reach minPartSize and then streamed; the rest of
 * that partial is copied. The last part may be small, so a lone small tail is still copied.
 */
export function planConcatenation(sizes: readonly number[], limits: S3Limits = S3_LIMITS): ConcatenationPlan {
  const total = sizes.reduce((sum, s) => sum + s, 0);
  if (total > limits.maxObjectSize) {
    throw new ConcatenationLimitError(`the final upload would be ${total} bytes; S3 objects are at most ${limits.maxObjectSize} bytes`);
  }
  const parts: PlannedPart[] = [];
  const emit = (segments: readonly Segment[]) => {
    const size = segments.reduce((sum, s) => sum + s.end - s.start, 0);
    parts.push({ partNumber: parts.length + 1, size, segments });
  };
  const emitCopies = (source: number, start: number, end: number) => {
    const count = Math.ceil((end - start) / limits.maxPartSize);
    const piece = Math.ceil((end - start) / count);
    for (let at = start; at < end; at += piece) emit([{ source, start: at, end: Math.min(end, at + piece) }]);
  };

  const lastNonEmpty = sizes.findLastIndex((s) => s > 0);
  let pending: Segment[] = [];
  let pendingSize = 0;
  sizes.forEach((size, source) => {
    if (size === 0) return;
    const isLast = source === lastNonEmpty;
    let position = 0;
    if (pendingSize > 0) {
      const need = limits.minPartSize - pendingSize;
      // Leaving a sliver below the minimum would only need joining again: take it all.
      const take = Math.min(size, size - need < limits.minPartSize && !isLast ? size : need);
      pending.push({ source, start: 0, end: take });
      pendingSize += take;
      position = take;
      if (pendingSize < limits.minPartSize) return;
      emit(pending);
      pending = [];
      pendingSize = 0;
    }
    const rest = size - position;
    if (rest === 0) return;
    if (rest >= limits.minPartSize || isLast) emitCopies(source, position, size);
    else {
      pending = [{ source, start: position, end: size }];
      pendingSize = rest;
    }
  });
  if (pendingSize > 0) emit(pending);

  if (parts.length > limits.maxParts) {
    throw new ConcatenationLimitError(`the final upload needs ${parts.length} parts; S3 allows at most ${limits.maxParts}`);
  }
  const streamedBytes = parts.filter((p) => p.segments.length > 1).reduce((sum, p) => sum + p.size, 0);
  return { parts, size: total, copiedBytes: total - streamedBytes, streamedBytes };
}
