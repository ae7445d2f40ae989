import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseRange } from '../../src/tus/download/byte-range.js';
import { evaluatePreconditions, ifRangeHolds, validatorsOf } from '../../src/tus/download/validators.js';

const modified = new Date('2026-12-07T10:00:00.500Z');
const validators = validatorsOf({ id: 'u1', size: 100 }, modified);
const headers = (init: Record<string, string>) => new Headers(init);

describe('validators of a finished upload', () => {
  it('the ETag is the verified sha256 when there is one, else a token of id, size and write time', () => {
    expect(validatorsOf({ id: 'u1', size: 100, sha256: 'ab'.repeat(32) }, modified).etag).toBe(`"sha256-${'ab'.repeat(32)}"`);
    expect(validators.etag).toMatch(/^"t-[A-Za-z0-9_-]{32}"$/);
    expect(validatorsOf({ id: 'u1', size: 100 }, new Date(modified)).etag).toBe(validators.etag);
    expect(validatorsOf({ id: 'u2', size: 100 }, modified).etag).not.toBe(validators.etag);
    expect(validatorsOf({ id: 'u1', size: 101 }, modified).etag).not.toBe(validators.etag);
    expect(validatorsOf({ id: 'u1', size: 100 }, new Date(modified.getTime() + 1)).etag).not.toBe(validators.etag);
  });

  it('Last-Modified is whole seconds (what an HTTP date can say)', () => {
    expect(validators.lastModified.toISOString()).toBe('2026-12-07T10:00:00.000Z');
  });
});

describe('evaluatePreconditions (RFC 9110 §13.2.2)', () => {
  const lastModified = validators.lastModified.toUTCString();
  const earlier = new Date(validators.lastModified.getTime() - 1000).toUTCString();
  it.each([
    [{}, 'proceed'],
    [{ 'If-Match': validators.etag }, 'proceed'],
    [{ 'If-Match': '*' }, 'proceed'],
    [{ 'If-Match': '"x", ' + validators.etag }, 'proceed'],
    [{ 'If-Match': '"x"' }, 412],
    [{ 'If-Match': `W/${validators.etag}` }, 412],
    [{ 'If-Unmodified-Since': lastModified }, 'proceed'],
    [{ 'If-Unmodified-Since': earlier }, 412],
    [{ 'If-Unmodified-Since': 'garbage' }, 'proceed'],
    // Only HTTP-dates count: Date.parse would read these as years.
    [{ 'If-Unmodified-Since': '1' }, 'proceed'],
    [{ 'If-Unmodified-Since': '2001' }, 'proceed'],
    [{ 'If-Modified-Since': '3000' }, 'proceed'],
    [{ 'If-Modified-Since': '2026-12-07T10:00:00Z' }, 'proceed'],
    // The obsolete forms an HTTP-date may still take (RFC 850, asctime).
    [{ 'If-Modified-Since': 'Monday, 07-Dec-26 10:00:00 GMT' }, 304],
    [{ 'If-Modified-Since': 'Mon Dec  7 10:00:00 2026' }, 304],
    // If-Match decides; If-Unmodified-Since is then not looked at.
    [{ 'If-Match': validators.etag, 'If-Unmodified-Since': earlier }, 'proceed'],
    [{ 'If-None-Match': validators.etag }, 304],
    [{ 'If-None-Match': `W/${validators.etag}` }, 304],
    [{ 'If-None-Match': '*' }, 304],
    [{ 'If-None-Match': '"x"' }, 'proceed'],
    [{ 'If-Modified-Since': lastModified }, 304],
    [{ 'If-Modified-Since': earlier }, 'proceed'],
    [{ 'If-Modified-Since': 'garbage' }, 'proceed'],
    // If-None-Match decides; If-Modified-Since is then not looked at.
    [{ 'If-None-Match': '"x"', 'If-Modified-Since': lastModified }, 'proceed'],
    // 412 before 304.
    [{ 'If-Match': '"x"', 'If-None-Match': validators.etag }, 412],
  ] as const)('%j → %s', (init, expected) => {
    expect(evaluatePreconditions(headers(init), validators)).toBe(expected);
  });
});

describe('chooseRange', () => {
  it.each([
    [{}, { kind: 'whole' }],
    [{ Range: 'bytes=0-0' }, { kind: 'part', start: 0, end: 0 }],
    [{ Range: 'bytes=-1' }, { kind: 'part', start: 99, end: 99 }],
    [{ Range: 'bytes=-1000' }, { kind: 'part', start: 0, end: 99 }],
    [{ Range: 'bytes=90-1000' }, { kind: 'part', start: 90, end: 99 }],
    [{ Range: 'bytes=100-' }, { kind: 'unsatisfiable' }],
    [{ Range: 'bytes=-0' }, { kind: 'unsatisfiable' }],
    [{ Range: 'bytes=0-1,5-6' }, { kind: 'whole' }],
    [{ Range: 'bytes=0-1,1-6' }, { kind: 'part', start: 0, end: 6 }],
    [{ Range: 'bytes=-1000,-2000' }, { kind: 'whole' }],
    [{ Range: 'bytes=200-300,400-500' }, { kind: 'whole' }],
    [{ Range: 'BYTES=0-0' }, { kind: 'part', start: 0, end: 0 }],
    [{ Range: 'Bytes = 5-9' }, { kind: 'part', start: 5, end: 9 }],
    [{ Range: 'bytes=x' }, { kind: 'whole' }],
    [{ Range: 'lines=0-1' }, { kind: 'whole' }],
    [{ Range: 'bytes=0-9', 'If-Range': '"stale"' }, { kind: 'whole' }],
    [{ Range: 'bytes=0-9', 'If-Range': validators.etag }, { kind: 'part', start: 0, end: 9 }],
    [{ Range: 'bytes=0-9', 'If-Range': validators.lastModified.toUTCString() }, { kind: 'part', start: 0, end: 9 }],
  ] as const)('%j of 100 bytes → %j', (init, expected) => {
    expect(chooseRange(headers(init), 100, validators)).toEqual(expected);
  });

  it('every single range it accepts lies inside the file; every other answer is whole or 416', () => {
    const spec = fc.oneof(
      fc.tuple(fc.nat(2000), fc.option(fc.nat(2000), { nil: undefined })).map(([a, b]) => `${a}-${b ?? ''}`),
      fc.nat(2000).map((n) => `-${n}`),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), spec, (size, range) => {
        const choice = chooseRange(headers({ Range: `bytes=${range}` }), size, validators);
        if (choice.kind === 'part') {
          expect(choice.start).toBeGreaterThanOrEqual(0);
          expect(choice.start).toBeLessThanOrEqual(choice.end);
          expect(choice.end).toBeLessThan(size);
          // A suffix takes the end of the file; first-last starts at first.
          if (range.startsWith('-')) expect(choice.end).toBe(size - 1);
          else expect(choice.start).toBe(Number(range.split('-')[0]));
        } else if (size === 0) {
          expect(choice.kind).toBe('unsatisfiable');
        }
      }),
    );
  });

  it('If-Range holds only for this file: its strong ETag or exactly its date', () => {
    expect(ifRangeHolds(headers({}), validators)).toBe(true);
    expect(ifRangeHolds(headers({ 'If-Range': `W/${validators.etag}` }), validators)).toBe(false);
    expect(ifRangeHolds(headers({ 'If-Range': new Date(validators.lastModified.getTime() + 1000).toUTCString() }), validators)).toBe(false);
  });
});
