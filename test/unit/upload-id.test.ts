import { describe, expect, it } from 'vitest';
import { uploadIdFromUrl } from '../../src/tus/upload-id.js';

describe('uploadIdFromUrl', () => {
  it('takes the id under the tus path, absolute or relative, with or without a trailing slash', () => {
    expect(uploadIdFromUrl('http://127.0.0.1:1080/files/abc123', '/files')).toBe('abc123');
    expect(uploadIdFromUrl('/files/abc123/', '/files')).toBe('abc123');
    expect(uploadIdFromUrl('/files/abc123?x=1', '/files')).toBe('abc123');
    expect(uploadIdFromUrl('/api/v1/uploads/id-9', '/api/v1/uploads')).toBe('id-9');
  });

  it('works when tus is mounted at the root', () => {
    expect(uploadIdFromUrl('/abc', '/')).toBe('abc');
    expect(uploadIdFromUrl('/', '/')).toBeUndefined();
  });

  it('decodes percent-escapes', () => {
    expect(uploadIdFromUrl('/files/a%20b', '/files')).toBe('a b');
  });

  it('returns undefined for the collection itself and for other paths', () => {
    expect(uploadIdFromUrl('/files', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/files/', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/filesabc', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/other/abc', '/files')).toBeUndefined();
  });

  it('refuses ids that could escape the store', () => {
    expect(uploadIdFromUrl('/files/a/b', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/files/..%2Fetc', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/files/a%5Cb', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/files/a%00', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/files/%2E%2E', '/files')).toBeUndefined();
    expect(uploadIdFromUrl('/files/%E0%A4%A', '/files')).toBeUndefined();
  });
});
