import fs from 'node:fs';

export interface MemoryReading {
  /** Resident set now, MiB. */
  readonly rssMiB: number;
  /** The kernel's high-water mark of the resident set since the process started, MiB. */
  readonly hwmMiB: number;
}

/** Reads VmRSS and VmHWM from /proc/<pid>/status (Linux). */
export function readMemory(pid: number): MemoryReading {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

/**
 * Polls VmRSS while a workload runs. VmHWM alone already gives the peak; polling as well
 * gives the peak of this window only (VmHWM counts everything since the process started).
 */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 50) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    try {
      this.peak = Math.max(this.peak, readMemory(this.pid).rssMiB);
    } catch {
      // The process may be gone; the caller reports what was seen.
    }
  }

  /** Stops polling; returns the largest VmRSS seen, MiB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}
