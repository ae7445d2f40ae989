/**
 * Amazon S3 multipart upload limits (S3 User Guide, "Amazon S3 multipart upload limits").
 * Every S3-compatible store Tessera targets (MinIO, R2, Ceph RGW) uses the same or looser.
 */
export const S3_LIMITS = Object.freeze({
  /** Every part but the last must be at least this large (the last may be smaller). */
  minPartSize: 5 * 1024 * 1024,
  /** Largest part, uploaded or copied (UploadPartCopy range). */
  maxPartSize: 5 * 1024 ** 3,
  /** Part numbers run from 1 to 10,000. */
  maxParts: 10_000,
  /** Largest object. */
  maxObjectSize: 5 * 1024 ** 4,
});

export type S3Limits = typeof S3_LIMITS;
