import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConcatenationLimitError, planConcatenation, type ConcatenationPlan } from '../../src/stores/s3/concatenation-plan.js';
import { S3_LIMITS } from '../../src/stores/s3/s3-limits.js';

const MiB = 1024 * 1024;
/** Real rules, scaled down so properties run over many parts quickly. */
const small = { minPartSize: 5, maxPartSize: 20, maxParts: 10_000, maxObjectSize: 5 * 1024 ** 4 } as const;

/** Every invariant a plan must satisfy for S3 to accept it and produce the right bytes. */
function checkPlan(sizes: readonly number[], plan: ConcatenationPlan, limits: typeof small | typeof S3_LIMITS): void {
  // The segments, in part order, are exactly the partials' bytes in order.
  const cursor = sizes.map(() => 0);
  let source = 0;
  for (const part of plan.parts) {
    for (const segment of part.segments) {
      while (source < sizes.length && cursor[source] === sizes[source]) source += 1;
      expect(segment.source).toBe(source);
      expect(segment.start).toBe(cursor[source]);
      expect(segment.end).toBeGreaterThan(segment.start);
      expect(segment.end).toBeLessThanOrEqual(sizes[source] as number);
      cursor[source] = segment.end;
    }
  }
  expect(cursor).toEqual(sizes);
  plan.parts.forEach((part, index) => {
    expect(part.partNumber).toBe(index + 1);
    expect(part.size).toBe(part.segments.reduce((sum, s) => sum + s.end - s.start, 0));
    expect(part.size).toBeLessThanOrEqual(limits.maxPartSize);
    if (index < plan.parts.length - 1) expect(part.size).toBeGreaterThanOrEqual(limits.minPartSize);
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  expect(plan.size).toBe(total);
  expect(plan.copiedBytes + plan.streamedBytes).toBe(total);
  expect(plan.streamedBytes).toBe(plan.parts.filter((p) => p.segments.length > 1).reduce((sum, p) => sum + p.size, 0));
}

describe('planConcatenation (S3 server-side assembly)', () => {
  it('copies partials of at least 5 MiB whole: nothing streams through the server', () => {
    const sizes = [16 * MiB, 16 * MiB, 16 * MiB, 16 * MiB];
    const plan = planConcatenation(sizes);
    checkPlan(sizes, plan, S3_LIMITS);
    expect(plan.parts.map((p) => p.segments)).toEqual(sizes.map((size, source) => [{ source, start: 0, end: size }]));
    expect(plan.streamedBytes).toBe(0);
  });

  it('copies a small last partial too (the last part may be below 5 MiB)', () => {
    const sizes = [8 * MiB, 8 * MiB, 3];
    const plan = planConcatenation(sizes);
    checkPlan(sizes, plan, S3_LIMITS);
    expect(plan.streamedBytes).toBe(0);
  });

  it('tops a small partial up with just enough of the next one, and copies the rest', () => {
    const sizes = [3 * MiB, 20 * MiB];
    const plan = planConcatenation(sizes);
    checkPlan(sizes, plan, S3_LIMITS);
    expect(plan.parts.map((p) => p.segments)).toEqual([
      [{ source: 0, start: 0, end: 3 * MiB }, { source: 1, start: 0, end: 5 * MiB - 3 * MiB }],
      [{ source: 1, start: 2 * MiB, end: 20 * MiB }],
    ]);
    expect(plan.streamedBytes).toBe(5 * MiB);
  });

  it('joins small partials through the server only as far as the minimum forces', () => {
    const sizes = [2 * MiB, 2 * MiB, 2 * MiB, 2 * MiB];
    const plan = planConcatenation(sizes);
    checkPlan(sizes, plan, S3_LIMITS);
    // 6 MiB streamed as one part, the last 2 MiB copied as the (small) last part.
    expect(plan.streamedBytes).toBe(6 * MiB);
    expect(plan.parts.at(-1)?.segments).toEqual([{ source: 3, start: 0, end: 2 * MiB }]);
  });

  it('splits a partial larger than the 5 GiB part limit into even parts', () => {
    const sizes = [12 * 1024 ** 3];
    const plan = planConcatenation(sizes);
    checkPlan(sizes, plan, S3_LIMITS);
    expect(plan.parts.map((p) => p.size)).toEqual([4 * 1024 ** 3, 4 * 1024 ** 3, 4 * 1024 ** 3]);
  });

  it('plans nothing for empty partials', () => {
    expect(planConcatenation([0, 0]).parts).toEqual([]);
  });

  it('refuses more than 10,000 parts and more than 5 TiB', () => {
    expect(() => planConcatenation(new Array<number>(10_001).fill(5 * MiB))).toThrow(ConcatenationLimitError);
    expect(() => planConcatenation([5 * 1024 ** 4, 1])).toThrow(/at most 5497558138880 bytes/);
  });

  it('always yields a plan S3 accepts with exactly the partials bytes in order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 60 }), { maxLength: 40 }), (sizes) => {
        checkPlan(sizes, planConcatenation(sizes, small), small);
      }),
      { numRuns: 400 },
    );
  });

  it('streams nothing when every partial but the last meets the minimum (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 5, max: 60 })), fc.nat({ max: 60 }), (sizes, last) => {
        const plan = planConcatenation([...sizes, last], small);
        expect(plan.streamedBytes).toBe(0);
      }),
    );
  });
});
