import { median } from './stats.js';

export interface CaseContext {
  readonly quick: boolean;
  /** A fresh temp dir for this case, removed afterwards. */
  readonly workDir: string;
  /** Time this case may take; repetitions stop early once it is spent. */
  readonly budgetMs: number;
  log(message: string): void;
}

export interface Ratio {
  readonly value: number;
  readonly vs: string;
  /** speed: > 1 is faster than `vs`; time: < 1 is faster than `vs`. */
  readonly kind: 'speed' | 'time';
}

/** One measured variant: seconds per repetition, in repetition order. */
export interface Row {
  readonly label: string;
  readonly seconds: readonly number[];
  /** Bytes moved per repetition, for MB/s. */
  readonly bytes?: number;
  /** "1.23× the speed of <vs>": medians of per-repetition ratios. */
  readonly ratios?: readonly Ratio[];
  /** Extra columns (e.g. peak RSS), rendered as given. */
  readonly extra?: Readonly<Record<string, string>>;
  /** Shown instead of numbers: the variant could not run (e.g. "not available: no checksum"). */
  readonly unavailable?: string;
}

export interface Goal {
  readonly text: string;
  readonly measured: string;
  /** null: not measured (extension not available, case failed or skipped). */
  readonly met: boolean | null;
}

export type CaseStatus = 'ok' | 'not available' | 'failed' | 'skipped';

export interface CaseOutcome {
  readonly status: CaseStatus;
  readonly reason?: string;
  readonly repetitions: number;
  readonly params: Readonly<Record<string, string | number>>;
  readonly rows: readonly Row[];
  readonly goals: readonly Goal[];
  readonly notes?: readonly string[];
}

export interface CaseResult extends CaseOutcome {
  readonly id: string;
  readonly title: string;
  readonly elapsedSeconds: number;
  /** Share (0–1) of the machine's CPU time the hypervisor took while the case ran. */
  readonly hostSteal?: number;
}

export interface BenchCase {
  readonly id: string;
  readonly title: string;
  /** Goals this case judges, listed even when it cannot run. */
  readonly goals: readonly string[];
  run(ctx: CaseContext): Promise<CaseOutcome>;
}

/**
 * How many times faster `samples` is than `baseline`: the median of per-repetition ratios,
 * since both ran in the same repetition under the same conditions.
 */
export const speedRatio = (samples: readonly number[], baseline: readonly number[], only?: readonly number[]): number =>
  pairedMedian(baseline, samples, only);

/** `samples`' time as a multiple of `baseline`'s (≤ 1 means faster), per repetition, median. */
export const timeRatio = (samples: readonly number[], baseline: readonly number[], only?: readonly number[]): number =>
  pairedMedian(samples, baseline, only);

/** Over the repetitions listed in `only` (see quietRepetitions), or all of them. */
function pairedMedian(numerators: readonly number[], denominators: readonly number[], only?: readonly number[]): number {
  const n = Math.min(numerators.length, denominators.length);
  const reps = only ?? Array.from({ length: n }, (_, i) => i);
  const ratios = reps.filter((i) => i < n).map((i) => (numerators[i] as number) / (denominators[i] as number));
  return median(ratios);
}

/** A goal "value ≥ / ≤ target", rendered with two decimals. */
export function goal(text: string, value: number | undefined, op: '>=' | '<=' | '<', target: number, unit = '×'): Goal {
  if (value === undefined || !Number.isFinite(value)) return { text, measured: 'not measured', met: null };
  const met = op === '>=' ? value >= target : op === '<=' ? value <= target : value < target;
  // A value that rounds to the target would show "0.90× missed": one more decimal says why.
  const digits = value.toFixed(2) === target.toFixed(2) ? 3 : 2;
  return { text, measured: `${value.toFixed(digits)}${unit}`, met };
}

export const notMeasured = (text: string, why: string): Goal => ({ text, measured: why, met: null });

/** The outcome of a case whose server lacks what it measures: reported, never a number. */
export function unavailable(reason: string, goals: readonly string[]): CaseOutcome {
  return {
    status: 'not available',
    reason,
    repetitions: 0,
    params: {},
    rows: [],
    goals: goals.map((text) => notMeasured(text, 'not available')),
  };
}
