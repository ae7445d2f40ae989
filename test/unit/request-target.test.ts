import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestTargets, resolveTarget } from '../../src/tus/request-target.js';

describe('resolveTarget', () => {
  it('resolves the collection and one upload, and ignores the query', () => {
    expect(resolveTarget('/files', '/files')).toEqual({ kind: 'collection' });
    expect(resolveTarget('/files/', '/files')).toEqual({ kind: 'collection' });
    expect(resolveTarget('/files?x=/files/abc', '/files')).toEqual({ kind: 'collection' });
    expect(resolveTarget('/files/abc123', '/files')).toEqual({ kind: 'upload', id: 'abc123' });
    expect(resolveTarget('/files/abc123?x=/files/other', '/files')).toEqual({ kind: 'upload', id: 'abc123' });
    expect(resolveTarget('/api/v1/uploads/id-9', '/api/v1/uploads')).toEqual({ kind: 'upload', id: 'id-9' });
    expect(resolveTarget('/abc', '/')).toEqual({ kind: 'upload', id: 'abc' });
    expect(resolveTarget('/', '/')).toEqual({ kind: 'collection' });
  });

  it('refuses every other spelling: dot segments, escapes, extra or empty segments, fragments, absolute form', () => {
    for (const raw of [
      '/files/a/b', '/files/abc/', '/files//abc', '/files/./abc', '/files/../files/abc', '/files/x/../abc',
      '/files/%61bc', '/files/..%2Fetc', '/files/a%5Cb', '/files/a%00', '/files/%2E%2E', '/files/.hidden',
      '/files/abc#x', '/files/x#/files/abc', 'http://host/files/abc', '*', '/filesabc', '/other/abc', '/files/a;b',
      `/files/${'a'.repeat(201)}`,
    ]) {
      expect({ raw, target: resolveTarget(raw, '/files') }).toEqual({ raw, target: undefined });
    }
  });

  it('gives an upload exactly one spelling: whatever resolves to an id is /files/<id> itself (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('/', '.', '..', '%', '2e', '2f', '?', '#', 'files', 'abc', 'a', '-', '_', ';', '\\', ''), { maxLength: 8 }),
        (parts) => {
          const raw = `/files/${parts.join('')}`;
          const target = resolveTarget(raw, '/files');
          if (target?.kind === 'upload') expect(raw.split('?')[0]).toBe(`/files/${target.id}`);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('RequestTargets.uploadIdOfUrl', () => {
  const targets = new RequestTargets('/files');
  const own = ['http://127.0.0.1:1080'];
  const resolve = (raw: string) => targets.uploadIdOfUrl(new URL(raw, 'http://127.0.0.1:1080/files'), own);

  it('accepts this origin’s uploads, absolute or relative', () => {
    expect(resolve('http://127.0.0.1:1080/files/abc')).toBe('abc');
    expect(resolve('/files/abc')).toBe('abc');
  });

  it('refuses other origins however written, queries, fragments and paths outside the tus path', () => {
    for (const raw of ['//evil.example/files/abc', '\\\\evil.example/files/abc', '/\\evil.example/files/abc', 'https://127.0.0.1:1080/files/abc', '/files/abc?x', '/files/abc#x', '/other/abc', 'abc']) {
      expect({ raw, id: resolve(raw) }).toEqual({ raw, id: undefined });
    }
  });
});
