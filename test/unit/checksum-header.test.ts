import { describe, expect, it } from 'vitest';
import { TusError } from '../../src/errors.js';
import { announcesChecksumTrailer, parseUploadChecksum } from '../../src/tus/extensions/checksum/checksum-header.js';

const b64 = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64');

describe('parseUploadChecksum', () => {
  it.each([
    ['sha1', 20],
    ['md5', 16],
    ['sha256', 32],
    ['sha512', 64],
    ['crc32', 4],
  ])('accepts %s with a %d-byte digest', (algorithm, size) => {
    const parsed = parseUploadChecksum(`${algorithm} ${b64(size)}`);
    expect(parsed.algorithm).toBe(algorithm);
    expect(parsed.digest).toEqual(Buffer.alloc(size, 7));
  });

  it('lower-cases the algorithm and ignores surrounding whitespace', () => {
    expect(parseUploadChecksum(`  SHA1 ${b64(20)} `).algorithm).toBe('sha1');
  });

  const failure = (value: string): TusError => {
    try {
      parseUploadChecksum(value);
    } catch (error) {
      if (error instanceof TusError) return error;
      throw error;
    }
    throw new Error(`"${value}" was accepted`);
  };

  it('rejects an unsupported algorithm with 400 and the supported list', () => {
    const error = failure(`sha3-256 ${b64(32)}`);
    expect(error.status_code).toBe(400);
    expect(error.code).toBe('ERR_UNSUPPORTED_CHECKSUM_ALGORITHM');
    expect(error.headers['Tus-Checksum-Algorithm']).toBe('sha1,md5,sha256,sha512,crc32');
  });

  it.each([
    ['empty', ''],
    ['algorithm only', 'sha1'],
    ['two spaces', `sha1  ${b64(20)}`],
    ['three parts', `sha1 ${b64(20)} x`],
    ['url-safe base64', 'md5 ____________________A=='],
    ['missing padding', `sha1 ${b64(20).replace(/=+$/, '')}`],
    ['too short a digest', `sha1 ${b64(16)}`],
    ['too long a digest', `crc32 ${b64(8)}`],
  ])('rejects a malformed value (%s) with 400', (_case, value) => {
    const error = failure(value);
    expect(error.status_code).toBe(400);
    expect(error.code).toBe('ERR_INVALID_CHECKSUM');
  });
});

describe('announcesChecksumTrailer', () => {
  it.each([
    ['Upload-Checksum', true],
    ['upload-checksum', true],
    ['Expires, Upload-Checksum', true],
    ['Expires', false],
    ['Upload-Checksum-Extra', false],
    [null, false],
  ] as const)('%s → %s', (value, expected) => {
    expect(announcesChecksumTrailer(value)).toBe(expected);
  });
});
