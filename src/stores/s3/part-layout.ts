import type { Part } from '@aws-sdk/client-s3';

/**
 * Which of a multipart upload's listed parts hold the upload's bytes, in order.
 *
 * Only the unbroken run of non-empty parts numbered 1, 2, …, k counts. A part after a hole (a
 * part whose UploadPart failed while later ones, sent in parallel, were stored; or a process
 * killed while parts finished out of order) holds bytes that belong after bytes S3 does not
 * have: counting it would put them at the wrong offset. An empty part is a hole too: it is how
 * a writer voids such a leftover (S3 cannot delete one part), see `leftovers`.
 */
export interface PartLayout {
  /** Parts 1..k, the bytes the upload holds in parts. */
  readonly counted: readonly Part[];
  /** Bytes in `counted`. */
  readonly countedBytes: number;
  /** k + 1: where the next write continues. */
  readonly nextPartNumber: number;
  /**
   * Non-empty parts after the hole. A write must void them (overwrite each with an empty part)
   * before it stores part k + 1: once the hole is filled they would join the counted run.
   */
  readonly leftovers: readonly Part[];
}

/**
 * `unverifiedFrom`: parts from this number on were streamed to S3 by a write that did not see
 * every one of them checked against its ETag (it died, or could not void a damaged one); they
 * do not count either, and are leftovers.
 */
export function partLayout(listed: readonly Part[], unverifiedFrom = Number.POSITIVE_INFINITY): PartLayout {
  const sorted = [...listed].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
  const counted: Part[] = [];
  for (const part of sorted) {
    if (part.PartNumber !== counted.length + 1 || !((part.Size ?? 0) > 0) || part.PartNumber >= unverifiedFrom) break;
    counted.push(part);
  }
  const k = counted.length;
  return {
    counted,
    countedBytes: counted.reduce((sum, part) => sum + (part.Size ?? 0), 0),
    nextPartNumber: k + 1,
    leftovers: sorted.filter((part) => (part.PartNumber ?? 0) > k && (part.Size ?? 0) > 0),
  };
}
