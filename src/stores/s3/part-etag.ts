import type { ServerSideEncryption } from '@aws-sdk/client-s3';

/** What an UploadPart answer says about the part's bytes. */
export interface StoredPartAnswer {
  readonly ETag?: string;
  readonly ServerSideEncryption?: ServerSideEncryption | string;
  readonly SSECustomerAlgorithm?: string;
}

/**
 * Whether S3 stored the bytes whose MD5 is `sentMd5`: a part's ETag is the quoted hex MD5 of
 * its bytes, except under KMS or customer-key encryption or on stores whose part ETags are no
 * MD5 (not 32 hex digits), where it proves nothing ('unknown').
 * A streamed part cannot carry Content-MD5 (it must precede the bytes), so this is its check.
 */
export function storedAsSent(answer: StoredPartAnswer, sentMd5: Buffer): 'same' | 'damaged' | 'unknown' {
  if (answer.SSECustomerAlgorithm !== undefined || String(answer.ServerSideEncryption ?? '').startsWith('aws:kms')) return 'unknown';
  // Some S3-compatible stores give parts ETags of another kind (a SHA-1, an opaque id): no MD5 to compare.
  if (!/^"?[0-9a-f]{32}"?$/i.test(answer.ETag ?? '')) return 'unknown';
  return answer.ETag === `"${sentMd5.toString('hex')}"` ? 'same' : 'damaged';
}
