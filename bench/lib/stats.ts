export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Seconds taken by `fn`, measured with the monotonic clock. */
export async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Decimal MB/s, the unit disks and links are quoted in. */
export const mbps = (bytes: number, seconds: number): number => bytes / 1e6 / seconds;

export const MiB = 1024 * 1024;

/**
 * The order of `items` for repetition `rep`: rotated so every variant runs first, middle and
 * last equally often, which spreads drift (page cache, background load) over all of them.
 */
export function rotation<T>(items: readonly T[], rep: number): T[] {
  const k = items.length === 0 ? 0 : rep % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Runs `body(rep)` at most `reps` times, and stops early (after at least one repetition) once
 * `budgetMs` has passed, so every case stays bounded in count and in time; also once
 * `enough(done)` says the samples of the `done` repetitions so far suffice.
 */
export async function repeat(reps: number, budgetMs: number, body: (rep: number) => Promise<void>, enough?: (done: number) => boolean): Promise<number> {
  const end = Date.now() + budgetMs;
  let done = 0;
  while (done < reps && (done === 0 || Date.now() < end)) {
    await body(done);
    done += 1;
    if (enough?.(done)) break;
  }
  return done;
}
