import fs from 'node:fs';

/** The machine's CPU time so far, in ticks: all of it, and what the hypervisor took (steal). */
export interface CpuTicks {
  readonly total: number;
  readonly steal: number;
}

/** From the aggregate `cpu` line of /proc/stat (Linux); zeros elsewhere. */
export function cpuTicks(): CpuTicks {
  let line: string | undefined;
  try {
    line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return { total: 0, steal: 0 };
  }
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const fields = (line ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((sum, n) => sum + (Number.isFinite(n) ? n : 0), 0), steal: fields[7] ?? 0 };
}

/**
 * The share (0–1) of the machine's CPU time the hypervisor gave to someone else between two
 * readings: on a shared VM this is what makes the same run take up to twice as long.
 */
export function stealShare(before: CpuTicks, after: CpuTicks): number {
  const total = after.total - before.total;
  return total > 0 ? (after.steal - before.steal) / total : 0;
}

/** A sample ran "quiet" when the host took at most this share of the machine's CPU time. */
export const QUIET_STEAL = 0.05;
/** Fewer quiet pairs than this and a ratio uses every repetition instead. */
export const MIN_QUIET_PAIRS = 3;

/**
 * The repetitions in which every given series' sample ran quiet, or undefined when there are
 * fewer than MIN_QUIET_PAIRS (then all repetitions count). Which ones are quiet depends only
 * on the host, never on the result, so no variant is favoured by the choice.
 */
export function quietRepetitions(...stealSeries: readonly (readonly number[])[]): number[] | undefined {
  const n = Math.min(...stealSeries.map((series) => series.length));
  const quiet = Array.from({ length: n }, (_, i) => i).filter((i) => stealSeries.every((series) => (series[i] as number) <= QUIET_STEAL));
  return quiet.length >= MIN_QUIET_PAIRS ? quiet : undefined;
}
