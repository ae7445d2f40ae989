import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { storedAsSent } from '../../src/stores/s3/part-etag.js';

const md5 = (text: string) => createHash('md5').update(text).digest();

describe('storedAsSent (a streamed part checked against its ETag)', () => {
  it('same when the ETag is the quoted MD5 of what was sent, damaged when it is another MD5', () => {
    expect(storedAsSent({ ETag: `"${md5('abc').toString('hex')}"` }, md5('abc'))).toBe('same');
    expect(storedAsSent({ ETag: `"${md5('abd').toString('hex')}"` }, md5('abc'))).toBe('damaged');
  });

  it('unknown when the ETag cannot be an MD5: KMS or customer-key encryption, or a store whose part ETags are of another kind', () => {
    const etag = `"${md5('abc').toString('hex')}"`;
    expect(storedAsSent({ ETag: etag, ServerSideEncryption: 'aws:kms' }, md5('abc'))).toBe('unknown');
    expect(storedAsSent({ ETag: etag, SSECustomerAlgorithm: 'AES256' }, md5('abc'))).toBe('unknown');
    expect(storedAsSent({ ETag: `"${createHash('sha1').update('abc').digest('hex')}"` }, md5('abc'))).toBe('unknown');
    expect(storedAsSent({}, md5('abc'))).toBe('unknown');
  });
});
