import type { Part } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partLayout } from '../../src/stores/s3/part-layout.js';

/** A listed part whose ETag records where in the file its bytes came from (the model's truth). */
const part = (PartNumber: number, Size: number, start = 0): Part => ({ PartNumber, Size, ETag: String(start) });

describe('partLayout (issue #22 item 1: only the unbroken run of parts counts)', () => {
  it('counts parts 1..k and stops at the first hole; parts after it are leftovers', () => {
    const layout = partLayout([part(1, 5), part(2, 5), part(4, 5), part(5, 3)]);
    expect(layout.counted.map((p) => p.PartNumber)).toEqual([1, 2]);
    expect(layout.countedBytes).toBe(10);
    expect(layout.nextPartNumber).toBe(3);
    expect(layout.leftovers.map((p) => p.PartNumber)).toEqual([4, 5]);
  });

  it('an empty part (a voided leftover) is a hole, and is no leftover itself', () => {
    const layout = partLayout([part(3, 5), part(1, 5), part(2, 0)]);
    expect(layout.counted.map((p) => p.PartNumber)).toEqual([1]);
    expect(layout.nextPartNumber).toBe(2);
    expect(layout.leftovers.map((p) => p.PartNumber)).toEqual([3]);
  });

  it('parts from an unverified mark on do not count: they are leftovers', () => {
    const layout = partLayout([part(1, 5), part(2, 5), part(3, 5)], 2);
    expect(layout.counted.map((p) => p.PartNumber)).toEqual([1]);
    expect(layout.nextPartNumber).toBe(2);
    expect(layout.leftovers.map((p) => p.PartNumber)).toEqual([2, 3]);
  });

  it('no parts: nothing counted, part 1 is next', () => {
    expect(partLayout([])).toEqual({ counted: [], countedBytes: 0, nextPartNumber: 1, leftovers: [] });
  });

  /**
   * The protocol the S3 store follows, run against random failures: each write session reads
   * the layout, voids the leftovers (and may die half-way through that), then sends parts from
   * `nextPartNumber`, of which any subset may be stored (a failed part, parts finishing out of
   * order, kill -9). Whatever happens, the counted parts are the file's bytes in order.
   */
  it('under random failures and crashes, the counted parts always hold the file from byte 0, in order', () => {
    const session = fc.record({
      voidsBeforeCrash: fc.option(fc.nat({ max: 4 }), { nil: undefined }),
      parts: fc.array(fc.record({ size: fc.integer({ min: 1, max: 9 }), stored: fc.boolean() }), { minLength: 1, maxLength: 6 }),
    });
    fc.assert(
      fc.property(fc.array(session, { minLength: 1, maxLength: 12 }), (sessions) => {
        const listed = new Map<number, Part>();
        for (const s of sessions) {
          const layout = partLayout([...listed.values()]);
          const voids = s.voidsBeforeCrash === undefined ? layout.leftovers : layout.leftovers.slice(0, s.voidsBeforeCrash);
          for (const leftover of voids) listed.set(leftover.PartNumber ?? 0, part(leftover.PartNumber ?? 0, 0));
          if (voids.length < layout.leftovers.length) continue; // died while voiding
          let position = layout.countedBytes;
          s.parts.forEach((p, index) => {
            const number = layout.nextPartNumber + index;
            if (p.stored) listed.set(number, part(number, p.size, position));
            position += p.size;
          });
          // The invariant: each counted part's bytes start where the parts before it end.
          let expectedStart = 0;
          for (const counted of partLayout([...listed.values()]).counted) {
            expect(Number(counted.ETag)).toBe(expectedStart);
            expectedStart += counted.Size ?? 0;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
