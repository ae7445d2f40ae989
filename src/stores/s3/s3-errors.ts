/** S3 error names for "not there", as the SDK reports them (name or Code). */
const NOT_FOUND = new Set(['NotFound', 'NoSuchKey', 'NoSuchUpload']);

export function isS3NotFound(error: unknown, codes: ReadonlySet<string> = NOT_FOUND): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, Code } = error as { name?: unknown; Code?: unknown };
  return (typeof name === 'string' && codes.has(name)) || (typeof Code === 'string' && codes.has(Code));
}

/** A multipart upload that was completed or aborted (S3, and some others' NoSuchKey). */
export const isMissingUpload = (error: unknown) => isS3NotFound(error, new Set(['NoSuchUpload', 'NoSuchKey']));

/** Asked for something S3 cannot do without the bytes (see S3StoreAdapter.truncate). */
export class S3TruncateError extends Error {
  override readonly name = 'S3TruncateError';
}
